// Package netguard keeps mailcal's outbound requests to URLs that someone
// else chose (a tenant's webhook, an OAuth client's metadata document) from
// reaching inside the network mailcal runs in: the address actually dialled,
// after DNS resolution, is checked just before connecting, so a name that
// is re-pointed at an inside address (DNS rebinding) still reaches nothing.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Policy says which inside addresses may be reached anyway. The zero
// Policy allows public unicast addresses only.
type Policy struct {
	// Loopback allows 127.0.0.0/8 and ::1 (tests, single-machine setups).
	Loopback bool
	// Private allows, besides loopback, private (RFC 1918, fc00::/7),
	// shared (100.64.0.0/10) and link-local addresses (tests).
	Private bool
}

// ErrRefused is wrapped by every refusal of Check and Control, so that a
// caller several layers up (an *url.Error around a *net.OpError) can tell
// a refused address from a network failure with errors.Is.
var ErrRefused = errors.New("refused address")

// refusal is a refused address: its message says why, and it is
// ErrRefused.
type refusal struct{ msg string }

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == ErrRefused }

func refused(format string, a ...any) error { return &refusal{msg: fmt.Sprintf(format, a...)} }

// shared is 100.64.0.0/10 (carrier-grade NAT), not covered by IsPrivate.
var shared = netip.MustParsePrefix("100.64.0.0/10")

// Check refuses an address the policy does not allow: loopback, private,
// shared, link-local, multicast, unspecified. An IPv4-mapped IPv6 address
// is judged as the IPv4 address it maps.
func Check(ip netip.Addr, p Policy) error {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return refused("not an IP address")
	case ip.IsLoopback():
		if p.Loopback || p.Private {
			return nil
		}
		return refused("address %s is loopback", ip)
	case ip.IsPrivate() || shared.Contains(ip):
		if p.Private {
			return nil
		}
		return refused("address %s is private", ip)
	case ip.IsLinkLocalUnicast():
		if p.Private {
			return nil
		}
		return refused("address %s is link-local", ip)
	case ip.IsLinkLocalMulticast():
		return refused("address %s is link-local", ip)
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast():
		return refused("address %s is not a unicast address", ip)
	}
	return nil
}

// Control is a net.Dialer Control function that refuses, just before
// connecting, any address Check refuses. The address it is given is the
// one actually dialled, after resolution; anything that is not an IP
// address is refused (it would mean the dial bypassed resolution).
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		host, _, _ := net.SplitHostPort(address)
		return refused("dialling %q: not an IP address", host)
	}
	if err := Check(ap.Addr(), p); err != nil {
		return fmt.Errorf("refused to connect: %w", err)
	}
	return nil
}
