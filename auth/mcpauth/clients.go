package mcpauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

// ClientStore is the part of store.OAuthServer that clients need: the
// registered (DCR) clients. store.OAuthServer satisfies it.
type ClientStore interface {
	PutOAuthClient(ctx context.Context, c store.OAuthClient) error
	GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error)
}

// ClientsConfig configures Clients.
type ClientsConfig struct {
	// Store keeps registered (DCR) clients.
	Store ClientStore
	// AllowPrivate: metadata documents may be fetched from loopback and
	// private addresses (tests: MAILCAL_OAUTH_ALLOW_PRIVATE_CLIENTS=1).
	AllowPrivate bool
	// Transport fetches documents. Default: a clone of
	// http.DefaultTransport without proxy whose every connection goes
	// through the SSRF guard (auth/internal/netguard). A Transport given
	// here must guard its own dials; Clients still refuses an IP-literal
	// client_id the guard would refuse.
	Transport http.RoundTripper
	// Now is the clock of the caches and the registration limit; default
	// time.Now.
	Now func() time.Time
}

// Bounds of the client caches and lookups.
const (
	// maxCached bounds each per-process cache; past it, expired entries go
	// first, then arbitrary ones.
	maxCached = 1000
	// registeredTTL: a registration is immutable, so a cached one is only
	// forgotten to bound memory and to notice a deleted one eventually.
	registeredTTL = time.Minute
	// storeTimeout bounds one store read of a lookup.
	storeTimeout = 5 * time.Second
)

// Clients finds OAuth clients (it is a ClientSource) and registers new
// ones (RegisterHandler). Safe for concurrent use.
type Clients struct {
	store        ClientStore
	allowPrivate bool
	http         *http.Client
	now          func() time.Time
	fetchTimeout time.Duration

	documents  *ttlCache // client_id URL → document client or its failure
	registered *ttlCache // mcc_ id → registered client
	flight     singleflight.Group
	limit      *tenant.Limiter
}

// NewClients returns Clients configured by cfg.
func NewClients(cfg ClientsConfig) *Clients {
	c := &Clients{
		store:        cfg.Store,
		allowPrivate: cfg.AllowPrivate,
		now:          cfg.Now,
		fetchTimeout: documentTimeout,
		documents:    newTTLCache(maxCached),
		registered:   newTTLCache(maxCached),
		limit:        tenant.NewLimiter(registerBurst, registerEvery),
	}
	if c.now == nil {
		c.now = time.Now
	}
	tr := cfg.Transport
	if tr == nil {
		tr = guardedTransport(cfg.AllowPrivate, nil)
	}
	c.http = &http.Client{
		Transport: tr,
		// The spec forbids following redirects: the document must be at
		// the client_id itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// Lookup finds a client by client_id: an https URL is a Client ID Metadata
// Document, fetched (bounded, under the SSRF guard) and cached; an "mcc_"
// id is a registered client. Anything else, and every failure, is an
// *Error with code invalid_client (temporarily_unavailable when the store
// fails).
func (c *Clients) Lookup(ctx context.Context, clientID string) (Client, error) {
	switch {
	case clientID == "":
		return Client{}, invalidClient("client_id is required: an https URL of a client metadata document, or an id from /register")
	case strings.HasPrefix(clientID, "https://"):
		return c.lookupDocument(ctx, clientID)
	case strings.HasPrefix(clientID, dcrIDPrefix):
		return c.lookupRegistered(ctx, clientID)
	case strings.HasPrefix(strings.ToLower(clientID), "http://"):
		return Client{}, invalidClient("client_id " + quoteClip(clientID) + " is an http URL; a client metadata document must be served over https")
	}
	return Client{}, invalidClient("unknown client_id " + quoteClip(clientID) + "; use an https URL of a client metadata document, or register at /register")
}

// lookupRegistered reads a registered client, cached for registeredTTL.
func (c *Clients) lookupRegistered(ctx context.Context, id string) (Client, error) {
	now := c.now()
	if e, ok := c.registered.get(id, now); ok {
		return e.client, nil
	}
	if c.store == nil || !dcrIDRE.MatchString(id) {
		return Client{}, invalidClient("unknown client_id " + quoteClip(id) + "; register again at /register")
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	rec, err := c.store.GetOAuthClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Client{}, invalidClient("unknown client_id " + quoteClip(id) + "; register again at /register")
	}
	if err != nil {
		slog.ErrorContext(ctx, "reading a registered OAuth client", "client_id", id, "err", err)
		return Client{}, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "the client registration could not be read; try again shortly"}
	}
	var md registration
	if err := json.Unmarshal(rec.Metadata, &md); err != nil || len(md.RedirectURIs) == 0 {
		slog.ErrorContext(ctx, "a registered OAuth client's metadata is unreadable", "client_id", id, "err", err)
		return Client{}, invalidClient("the registration of client_id " + quoteClip(id) + " is unreadable; register again at /register")
	}
	cl := Client{ID: id, Name: md.ClientName, RedirectURIs: md.RedirectURIs,
		AuthMethod: md.TokenEndpointAuthMethod, SecretHash: rec.SecretHash}
	if cl.AuthMethod == "" {
		cl.AuthMethod = "none"
	}
	c.registered.put(id, cacheEntry{client: cl}, now.Add(registeredTTL), now)
	return cl, nil
}

func invalidClient(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_client", Description: desc}
}

// cacheEntry is a found client, or (err != nil) a failure to remember.
type cacheEntry struct {
	client Client
	err    *Error
}

// ttlCache is a bounded map of entries with an expiry each.
type ttlCache struct {
	max     int
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	cacheEntry
	expires time.Time
}

func newTTLCache(max int) *ttlCache { return &ttlCache{max: max, entries: map[string]cached{}} }

func (t *ttlCache) get(key string, now time.Time) (cacheEntry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok || !now.Before(e.expires) {
		return cacheEntry{}, false
	}
	return e.cacheEntry, true
}

// put stores an entry; when the cache is full it drops the expired
// entries, and if none had expired, an arbitrary one (map order), so a
// stream of distinct client_ids costs bounded memory.
func (t *ttlCache) put(key string, e cacheEntry, expires, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.entries[key]; !ok && len(t.entries) >= t.max {
		for k, v := range t.entries {
			if !now.Before(v.expires) {
				delete(t.entries, k)
			}
		}
		for k := range t.entries {
			if len(t.entries) < t.max {
				break
			}
			delete(t.entries, k)
		}
	}
	t.entries[key] = cached{cacheEntry: e, expires: expires}
}

// Bounds of client metadata.
const (
	maxRedirectURIs = 20
	maxURILen       = store.MaxOAuthURILen
	maxNameRunes    = 100
)

// schemeRE is RFC 3986's scheme syntax.
var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// forbiddenSchemes can never be a redirect target: they run code, read
// local files or are not a place to come back to.
var forbiddenSchemes = map[string]bool{
	"javascript": true, "vbscript": true, "data": true, "file": true, "blob": true,
	"about": true, "filesystem": true, "view-source": true, "ftp": true, "ws": true,
	"wss": true, "mailto": true, "tel": true, "sms": true, "jar": true,
}

// checkRedirectURIs validates a client's redirect_uris: 1 to 20 of them,
// each absolute, at most 1024 bytes, without fragment, control
// characters or credentials, and https, http to a loopback host (native
// apps, RFC 8252 section 7.3) or a private-use scheme (RFC 8252 section
// 7.1, such as cursor://). The error names the offending entry.
func checkRedirectURIs(uris []string) error {
	if len(uris) == 0 {
		return errors.New("redirect_uris: required, a list of 1 to 20 absolute URIs")
	}
	if len(uris) > maxRedirectURIs {
		return fmt.Errorf("redirect_uris: %d entries; at most %d", len(uris), maxRedirectURIs)
	}
	seen := map[string]bool{}
	for i, raw := range uris {
		if err := checkRedirectURI(raw); err != nil {
			return fmt.Errorf("redirect_uris[%d]: %w", i, err)
		}
		if seen[raw] {
			return fmt.Errorf("redirect_uris[%d]: %s is listed twice", i, quoteClip(raw))
		}
		seen[raw] = true
	}
	return nil
}

func checkRedirectURI(raw string) error {
	if len(raw) > maxURILen {
		return fmt.Errorf("%d bytes; at most %d", len(raw), maxURILen)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r > 0x7e }) >= 0 {
		return errors.New("holds a space, a control or a non-ASCII character (percent-encode it)")
	}
	if strings.Contains(raw, "#") {
		return fmt.Errorf("%s holds a fragment (#…), which a redirect URI must not", quoteClip(raw))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%s is not an absolute URI", quoteClip(raw))
	}
	scheme := strings.ToLower(u.Scheme)
	if u.User != nil {
		return errors.New("must not hold credentials (user:password@)")
	}
	switch {
	case scheme == "https":
		if u.Host == "" || u.Opaque != "" {
			return fmt.Errorf("%s: an https redirect URI needs a host", quoteClip(raw))
		}
	case scheme == "http":
		if u.Opaque != "" || !loopbackHost(u.Hostname()) {
			return fmt.Errorf("%s: http is allowed only to a loopback host (localhost, 127.0.0.1, [::1]); use https", quoteClip(raw))
		}
	case forbiddenSchemes[scheme] || !schemeRE.MatchString(scheme):
		return fmt.Errorf("%s: scheme %q cannot be a redirect URI; use https, http to a loopback host, or an app's private-use scheme", quoteClip(raw), clip(scheme, 20))
	case u.Opaque == "" && u.Host == "" && u.Path == "":
		return fmt.Errorf("%s: nothing after the scheme", quoteClip(raw))
	}
	return nil
}

// loopbackHost: localhost or a loopback IP address.
func loopbackHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// sanitizeName makes a client's self-chosen name safe to show: control and
// format characters (bidirectional overrides among them) removed, spaces
// collapsed, at most 100 characters. Pages still HTML-escape it.
func sanitizeName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxNameRunes {
		s = strings.TrimSpace(string([]rune(s)[:maxNameRunes-1])) + "…"
	}
	return s
}

// clip shortens someone else's text for an error message: control
// characters replaced, at most n characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if utf8.RuneCountInString(s) > n {
		return string([]rune(s)[:n]) + "…"
	}
	return s
}

func quoteClip(s string) string { return strconv.Quote(clip(s, 80)) }
