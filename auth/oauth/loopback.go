package oauth

import (
	"net"
	"net/netip"
	"strings"
)

// IsLoopbackHost reports whether a host or host:port names this machine's
// loopback interface.
func IsLoopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
