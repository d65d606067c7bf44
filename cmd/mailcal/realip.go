package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// envTrustedProxies names the reverse proxies (addresses and CIDR ranges)
// whose X-Forwarded-For mailcal believes. Behind a proxy every request
// comes from the proxy's address, so without it every client shares one
// budget of the limits kept per source address: wrong API keys, client
// registrations, and sign-ins begun, of which a whole workspace signing in
// in the same minutes would run out.
const envTrustedProxies = "MAILCAL_TRUSTED_PROXIES"

func parseTrustedProxies(get func(string) string, c *config) error {
	for _, s := range strings.Split(get(envTrustedProxies), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %q is not an IP address or CIDR range (10.0.0.0/8, 192.0.2.7, fd00::/8)", envTrustedProxies, s)
		}
		c.trustedProxies = append(c.trustedProxies, p.Masked())
	}
	return nil
}

// realIP puts the client's address in RemoteAddr when the request came
// through a trusted proxy: the rightmost address of X-Forwarded-For that is
// not a trusted proxy itself (what the nearest proxy saw; the entries left
// of it are the client's to write). A header that cannot be read is not
// believed. Nothing is done for a request from anyone else, whatever it
// claims.
func realIP(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if peer, ok := addrOf(r.RemoteAddr); ok && isTrusted(trusted, peer) {
			if client, ok := forwardedClient(r.Header.Values("X-Forwarded-For"), trusted); ok {
				r = r.WithContext(r.Context()) // a shallow copy: the caller's request stays as it was
				r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedClient reads X-Forwarded-For from the right: the first address
// that is not a trusted proxy is the client; if all are, the leftmost.
func forwardedClient(values []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	var last netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := addrOf(strings.TrimSpace(hops[i]))
		if !ok {
			return netip.Addr{}, false
		}
		if !isTrusted(trusted, a) {
			return a, true
		}
		last = a
	}
	return last, last.IsValid()
}

// addrOf parses an address with or without a port ("192.0.2.7",
// "192.0.2.7:443", "[2001:db8::1]:443", "2001:db8::1").
func addrOf(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
