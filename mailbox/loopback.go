package mailbox

import (
	"net"
	"strings"
)

// IsLoopback reports whether host names this machine: the one place that
// decides where plain IMAP and SMTP, without TLS, are allowed.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
