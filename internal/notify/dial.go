package notify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Receivers are chosen by merchants (and by their customers' orders), so
// the dispatcher must not become a way into the operator's own network:
// only http and https, no redirects, and no connection to a loopback,
// private, link-local, unspecified or multicast address — checked on the
// address actually dialled, after DNS resolution, so that a name that
// resolves differently later (DNS rebinding) cannot get around it. The
// operator can allow such addresses (--allow-private-webhooks).

// ErrPrivateAddress is the dial error for a refused address.
var ErrPrivateAddress = errors.New("address not allowed")

// blockedPrefixes are refused beyond loopback, private (RFC 1918, fc00::/7),
// link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10),
// unspecified and multicast addresses, which netip's predicates cover.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo: may wrap a private IPv4 address
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may wrap a private IPv4 address
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
}

// PublicAddress reports whether a webhook may connect to ip.
func PublicAddress(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// dialControl refuses connections to addresses that are not public; it
// runs on the resolved address of every connection attempt.
func dialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, host)
	}
	if !PublicAddress(ip) {
		return fmt.Errorf("%w: %s is not a public address (allow with --allow-private-webhooks)", ErrPrivateAddress, ip.Unmap())
	}
	return nil
}

// NewHTTPClient returns the client the dispatcher sends with: timeout per
// request, no redirects followed, no proxy from the environment (a proxy
// would dial on our behalf, past the address check), and, unless
// allowPrivate, only public addresses.
func NewHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a 3xx is an answer, and a failure
		},
	}
}

// maxURLLen bounds a destination URL.
const maxURLLen = 2048

// CheckURL validates a destination URL: absolute http or https, a host,
// no credentials, and — unless allowPrivate — no host that is a
// non-public IP literal or "localhost". Names are checked again, resolved,
// at every connection.
func CheckURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return errors.New("a URL is required")
	}
	if len(raw) > maxURLLen {
		return fmt.Errorf("the URL is longer than %d characters", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("the URL must start with https:// or http://")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("the URL has no host")
	}
	if u.User != nil {
		return errors.New("the URL must not carry credentials")
	}
	if allowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return errors.New("the URL's host is local (allow with --allow-private-webhooks)")
	}
	if ip, err := netip.ParseAddr(host); err == nil && !PublicAddress(ip) {
		return errors.New("the URL's host is not a public address (allow with --allow-private-webhooks)")
	}
	return nil
}
