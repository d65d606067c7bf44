package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/mailcal/mailcal/auth/internal/netguard"
)

// MaxURLLen bounds a webhook URL.
const MaxURLLen = 2048

// ParseURL checks a webhook URL as a tenant gives it: absolute, https (http
// only to a loopback host, and only when allowLoopback), at most MaxURLLen
// bytes, no credentials, no fragment, a host name or a public IP address.
// A loopback host (localhost, 127.0.0.0/8, ::1) is accepted only when
// allowLoopback (tests and single-machine setups); private, link-local,
// shared, multicast and unspecified addresses never. A name is checked
// again against the addresses it resolves to on every connection
// (DialControl), so that it cannot be made to point inside later.
func ParseURL(raw string, allowLoopback bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url: required, an https:// URL")
	}
	if len(raw) > MaxURLLen {
		return nil, fmt.Errorf("url: %d bytes; at most %d", len(raw), MaxURLLen)
	}
	for _, c := range []byte(raw) {
		if c <= ' ' || c == 0x7f {
			return nil, errors.New("url: holds a space or a control character")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("url: not a valid URL")
	}
	if u.User != nil {
		return nil, errors.New("url: must not hold credentials (user:password@); the signature authenticates deliveries")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, errors.New("url: must not hold a fragment (#…)")
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, errors.New("url: must be absolute, https://host/path")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return nil, errors.New("url: no host")
	}
	if p := u.Port(); p != "" {
		if n, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil || n.Port() == 0 {
			return nil, fmt.Errorf("url: port %q is not a port number", p)
		}
	}
	loop := isLoopbackName(host)
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return nil, errors.New("url: an IPv6 zone is not allowed")
		}
		if err := CheckAddr(ip, allowLoopback); err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
		loop = ip.Unmap().IsLoopback()
	} else if loop && !allowLoopback {
		return nil, errors.New("url: a loopback host is not allowed")
	} else if !loop && (strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") || !strings.Contains(strings.TrimSuffix(host, "."), ".")) {
		return nil, fmt.Errorf("url: host %q is not a public name", host)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loop:
	case u.Scheme == "http":
		return nil, errors.New("url: must be https (http only to a loopback host)")
	default:
		return nil, fmt.Errorf("url: scheme %q; must be https", u.Scheme)
	}
	return u, nil
}

func isLoopbackName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// CheckAddr refuses an address a webhook must not reach: loopback (unless
// allowLoopback), private, shared, link-local, multicast, unspecified. The
// rules are auth/internal/netguard's, shared with every outbound request to
// a URL someone else chose.
func CheckAddr(ip netip.Addr, allowLoopback bool) error {
	return netguard.Check(ip, netguard.Policy{Loopback: allowLoopback})
}

// DialControl returns a net.Dialer Control function that refuses, just
// before connecting, any address CheckAddr refuses: the address actually
// dialled, after resolution, so a name re-pointed at an inside address
// between registration and delivery still reaches nothing inside.
func DialControl(allowLoopback bool) func(network, address string, c syscall.RawConn) error {
	control := netguard.Policy{Loopback: allowLoopback}.Control
	return func(network, address string, c syscall.RawConn) error {
		if err := control(network, address, c); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		return nil
	}
}

// CheckResolved resolves a webhook URL's host name (an IP address is
// checked by ParseURL already) and refuses it if it does not resolve or if
// any of its addresses is one CheckAddr refuses: a tenant learns at once
// that its URL points inside. The dial-time check (DialControl) still
// guards every delivery.
func CheckResolved(ctx context.Context, u *url.URL, allowLoopback bool, lookup func(ctx context.Context, host string) ([]netip.Addr, error)) error {
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil || isLoopbackName(strings.ToLower(host)) {
		return nil
	}
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("url: host %q does not resolve", host)
	}
	for _, a := range addrs {
		if err := CheckAddr(a, allowLoopback); err != nil {
			return fmt.Errorf("url: host %q resolves to a refused address: %w", host, err)
		}
	}
	return nil
}
