package mcpauth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/internal/netguard"
)

// Bounds of a Client ID Metadata Document fetch
// (draft-ietf-oauth-client-id-metadata-document).
const (
	documentTimeout = 5 * time.Second // the whole fetch: connecting, TLS, answer, body
	maxDocument     = 5 << 10         // the draft's recommended limit
	// A fetched document is kept as long as its Cache-Control max-age
	// says, within these bounds (default when it says nothing).
	minDocumentTTL     = time.Minute
	maxDocumentTTL     = 24 * time.Hour
	defaultDocumentTTL = 10 * time.Minute
	// failureTTL keeps a failed fetch's error, so that a hostile client_id
	// cannot make mailcal fetch in a loop.
	failureTTL = 30 * time.Second
)

// checkDocumentURL checks a client_id that is a metadata document's URL:
// https, a host, a path other than "/", no fragment, no credentials, no
// "." or ".." segments, at most 1024 bytes, printable ASCII.
func checkDocumentURL(raw string) (*url.URL, error) {
	if len(raw) > maxURILen {
		return nil, fmt.Errorf("%d bytes; at most %d", len(raw), maxURILen)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r > 0x7e }) >= 0 {
		return nil, errors.New("holds a space, a control or a non-ASCII character")
	}
	if strings.Contains(raw, "#") {
		return nil, errors.New("holds a fragment (#…)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("is not an https URL with a host")
	}
	if u.User != nil {
		return nil, errors.New("holds credentials (user@)")
	}
	path := u.EscapedPath()
	if path == "" || path == "/" {
		return nil, errors.New("has no path; a metadata document's URL has one, such as https://app.example/oauth/client.json")
	}
	for _, seg := range strings.Split(path, "/") {
		if seg = strings.ReplaceAll(strings.ToLower(seg), "%2e", "."); seg == "." || seg == ".." {
			return nil, errors.New(`holds a "." or ".." path segment`)
		}
	}
	return u, nil
}

// lookupDocument finds the client a metadata document describes: from the
// cache, or by one fetch shared by every concurrent lookup of the URL.
// The fetch is detached from the caller's context (a caller that goes away
// does not fail the others) and bounded by documentTimeout.
func (c *Clients) lookupDocument(ctx context.Context, id string) (Client, error) {
	u, err := checkDocumentURL(id)
	if err != nil {
		return Client{}, invalidClient("client_id " + quoteClip(id) + " " + err.Error())
	}
	if err := c.checkHost(u.Hostname()); err != nil {
		return Client{}, err
	}
	if e, ok := c.documents.get(id, c.now()); ok {
		return e.result()
	}
	ch := c.flight.DoChan(id, func() (any, error) {
		if e, ok := c.documents.get(id, c.now()); ok { // a flight just ended
			return e, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchTimeout)
		defer cancel()
		cl, ttl, ferr := c.fetchDocument(fctx, u, id)
		e, now := cacheEntry{client: cl, err: ferr}, c.now()
		if ferr != nil {
			ttl = failureTTL
		}
		c.documents.put(id, e, now.Add(ttl), now)
		return e, nil
	})
	select {
	case r := <-ch:
		return r.Val.(cacheEntry).result()
	case <-ctx.Done():
		return Client{}, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "the request ended while the client metadata document was being fetched; try again"}
	}
}

func (e cacheEntry) result() (Client, error) {
	if e.err != nil {
		return Client{}, e.err
	}
	return e.client, nil
}

// checkHost refuses at once a client_id whose host is an address (or a
// loopback name) the SSRF guard would refuse at dial time.
func (c *Clients) checkHost(host string) error {
	policy := netguard.Policy{Private: c.allowPrivate}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := netguard.Check(ip, policy); err != nil {
			return invalidClient("the client metadata document could not be fetched: its host points to a private, loopback or non-unicast address (" + err.Error() + "), which mailcal does not fetch")
		}
	} else if loopbackHost(host) && !c.allowPrivate {
		return invalidClient("the client metadata document could not be fetched: its host " + quoteClip(host) + " points to a private, loopback or non-unicast address, which mailcal does not fetch")
	}
	return nil
}

// fetchDocument GETs and validates a metadata document; it answers the
// client and how long to keep it, or an *Error saying why not.
func (c *Clients) fetchDocument(ctx context.Context, u *url.URL, id string) (Client, time.Duration, *Error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Client{}, 0, invalidClient("client_id " + quoteClip(id) + " is not a URL mailcal can fetch")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mailcal (OAuth client metadata fetch)")
	resp, err := c.http.Do(req)
	if err != nil {
		slog.InfoContext(ctx, "fetching an OAuth client metadata document failed", "client_id", clip(id, 200), "err", err)
		return Client{}, 0, cannotFetch(fetchFailure(ctx, err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return Client{}, 0, cannotFetch(fmt.Sprintf("its URL answered a redirect (HTTP %d); the document must be served at the client_id URL itself, redirects are not followed", resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return Client{}, 0, cannotFetch(fmt.Sprintf("its URL answered HTTP %d, not 200", resp.StatusCode))
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return Client{}, 0, badDocument(id, fmt.Sprintf("it is served as %q; it must be application/json", clip(resp.Header.Get("Content-Type"), 60)))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return Client{}, 0, cannotFetch(fetchFailure(ctx, err))
	}
	if len(body) > maxDocument {
		return Client{}, 0, badDocument(id, fmt.Sprintf("it is larger than %d bytes", maxDocument))
	}
	cl, err := parseDocument(body, id)
	if err != nil {
		return Client{}, 0, badDocument(id, err.Error())
	}
	return cl, documentTTL(resp.Header.Values("Cache-Control")), nil
}

func cannotFetch(why string) *Error {
	return invalidClient("the client metadata document could not be fetched: " + why)
}

func badDocument(id, why string) *Error {
	return invalidClient("the client metadata document at " + quoteClip(id) + " is not usable: " + why)
}

// fetchFailure says why a fetch failed, without repeating the transport's
// error text (logged instead).
func fetchFailure(ctx context.Context, err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, netguard.ErrRefused):
		return "its host points to a private, loopback or non-unicast address, which mailcal does not fetch"
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fmt.Sprintf("no complete answer within %s", documentTimeout)
	case errors.As(err, &dnsErr):
		return "its host name does not resolve"
	case errors.As(err, &certErr):
		return "its TLS certificate is not trusted"
	}
	return "the connection failed"
}

// documentTTL is how long to keep a document: its Cache-Control max-age
// within [minDocumentTTL, maxDocumentTTL], else defaultDocumentTTL.
// no-store and no-cache still keep it minDocumentTTL: a client whose every
// request made mailcal fetch would be a fetch amplifier.
func documentTTL(cacheControl []string) time.Duration {
	ttl := defaultDocumentTTL
	for _, h := range cacheControl {
		for _, d := range strings.Split(h, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return minDocumentTTL
			case strings.HasPrefix(d, "max-age="):
				if n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
					ttl = time.Duration(min(n, int64(maxDocumentTTL/time.Second))) * time.Second
				}
			}
		}
	}
	return min(max(ttl, minDocumentTTL), maxDocumentTTL)
}

// parseDocument validates a metadata document fetched from id.
func parseDocument(body []byte, id string) (Client, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		return Client{}, errors.New("it is not a JSON object")
	}
	var d struct {
		ClientID     string   `json:"client_id"`
		RedirectURIs []string `json:"redirect_uris"`
		AuthMethod   string   `json:"token_endpoint_auth_method"`
		Name         string   `json:"client_name"`
		GrantTypes   []string `json:"grant_types"`
		Types        []string `json:"response_types"`
	}
	for name, dst := range map[string]any{"client_id": &d.ClientID, "redirect_uris": &d.RedirectURIs,
		"token_endpoint_auth_method": &d.AuthMethod, "client_name": &d.Name,
		"grant_types": &d.GrantTypes, "response_types": &d.Types} {
		if err := field(doc, name, dst); err != nil {
			return Client{}, err
		}
	}
	if d.ClientID != id {
		return Client{}, fmt.Errorf("its client_id %s does not equal the URL it was fetched from", quoteClip(d.ClientID))
	}
	if _, ok := doc["client_secret"]; ok {
		return Client{}, errors.New("it holds a client_secret; a metadata document is public and cannot hold one")
	}
	switch d.AuthMethod {
	case "", "none":
	case "client_secret_basic", "client_secret_post", "client_secret_jwt":
		return Client{}, fmt.Errorf("token_endpoint_auth_method %q needs a shared secret, which a public metadata document cannot hold; use \"none\" (PKCE protects the code)", d.AuthMethod)
	case "private_key_jwt":
		return Client{}, errors.New(`token_endpoint_auth_method "private_key_jwt" is not supported by mailcal; use "none"`)
	default:
		return Client{}, fmt.Errorf("token_endpoint_auth_method %s is not supported; use \"none\"", quoteClip(d.AuthMethod))
	}
	if err := checkRedirectURIs(d.RedirectURIs); err != nil {
		return Client{}, err
	}
	if d.GrantTypes != nil && !slices.Contains(d.GrantTypes, "authorization_code") {
		return Client{}, errors.New(`grant_types must include "authorization_code"`)
	}
	if d.Types != nil && !slices.Contains(d.Types, "code") {
		return Client{}, errors.New(`response_types must include "code"`)
	}
	return Client{ID: id, Name: sanitizeName(d.Name), RedirectURIs: d.RedirectURIs, AuthMethod: "none", Document: true}, nil
}

// field decodes one member of a JSON object into dst, naming the member
// and its expected type when it does not fit. An absent member or a null
// leaves dst alone.
func field(obj map[string]json.RawMessage, name string, dst any) error {
	raw, ok := obj[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		what := "a string"
		if _, list := dst.(*[]string); list {
			what = "a list of strings"
		}
		return fmt.Errorf("%s: must be %s", name, what)
	}
	return nil
}

// guardedTransport is the default Transport of document fetches: no proxy
// (a proxy would be dialled instead of the document's host, escaping the
// guard), names resolved by lookup (default: the system resolver), and
// every resolved address checked by the SSRF guard just before
// connecting. Each attempt is bounded by documentTimeout.
func guardedTransport(allowPrivate bool, lookup func(ctx context.Context, host string) ([]netip.Addr, error)) *http.Transport {
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	d := &net.Dialer{Timeout: documentTimeout, Control: netguard.Policy{Private: allowPrivate}.Control}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		var last error
		for _, ip := range ips {
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil {
				return conn, nil
			}
			last = err
		}
		return nil, last
	}
	tr.TLSHandshakeTimeout = documentTimeout
	tr.ResponseHeaderTimeout = documentTimeout
	tr.MaxResponseHeaderBytes = 16 << 10
	tr.MaxIdleConnsPerHost = 2
	return tr
}
