// Package microsoft is the Microsoft 365 provider: its Spec (spec.go:
// identity platform endpoints per tenant, scopes, identity, dead-grant
// advice, limits, words) and the provider-neutral mail and calendar
// interfaces of package providers over Microsoft Graph (v1.0), with
// net/http and encoding/json (no Graph SDK).
//
// Every Graph request goes through providers.Transport carrying the
// account's access token (one refresh and one more try on a 401) over an
// httpretry.Transport with Microsoft's retry decision (retryPolicy):
// 429 for every request, 503 and 504 for idempotent ones, honouring
// Retry-After, within Options.MaxRetryWait and the caller's context. A send
// is never repeated after it may have reached Graph: such a failure is
// providers.ErrUncertain. Graph's error bodies are mapped to
// *providers.Error (mapResponse); texts pass through providers.Redact.
//
// Every request asks for immutable ids (Prefer: IdType="ImmutableId"): a
// message keeps its id when it moves between folders (a draft that is sent,
// a message archived), so ids handed to a model stay valid.
//
// One provider call makes its requests one after another: with mailcal's
// limit of 4 calls per account, an account never has more than 4 requests
// in flight, Graph's limit per mailbox.
package microsoft

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// Options configure the API clients. The zero value talks to Microsoft.
type Options struct {
	// GraphURL is Microsoft Graph's base URL, version included; default
	// https://graph.microsoft.com/v1.0.
	GraphURL string
	// HTTPClient supplies the base transport, redirect policy and the
	// timeout of each attempt (default 30 s). Nil or without a Transport:
	// providers.DefaultTransport.
	HTTPClient *http.Client
	// MaxRetryWait is the retry budget of one request (default 20 s, as
	// Google's), attempt time included; the caller's context bounds it too.
	MaxRetryWait time.Duration
}

// Defaults of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRetryWait = 20 * time.Second
)

// API makes Graph mail and calendar clients for accounts' token sources.
// It is safe for concurrent use; Mail and Calendar are cheap.
type API struct {
	opts  Options
	base  http.RoundTripper
	graph *url.URL
	// backoff is the retry transport's wait without Retry-After (tests
	// shorten it).
	backoff func(n int) time.Duration
	now     func() time.Time

	folders  cache[*folderSet] // per account: mail folders
	zones    cache[string]     // per account: the mailbox's IANA zone
	noDrafts cache[bool]       // per access token: drafts refused (no Mail.ReadWrite)
	// categories: per account, the master categories (triage.go).
	categories cache[[]category]
}

var _ providers.API = (*API)(nil)

// New returns the API clients' factory.
func New(opts Options) (*API, error) {
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = DefaultMaxRetryWait
	}
	if opts.GraphURL == "" {
		opts.GraphURL = defaultGraphURL
	}
	opts.GraphURL = strings.TrimRight(opts.GraphURL, "/")
	if err := providers.CheckEndpoint(opts.GraphURL); err != nil {
		return nil, fmt.Errorf("microsoft: %v", err)
	}
	u, err := url.Parse(opts.GraphURL)
	if err != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("microsoft: Graph URL %q must be a base URL without query", opts.GraphURL)
	}
	var base http.RoundTripper
	opts.HTTPClient, base = providers.APIClient(opts.HTTPClient, DefaultTimeout, 0)
	a := &API{opts: opts, base: base, graph: u, backoff: httpretry.DefaultBackoff, now: time.Now}
	a.folders.ttl, a.zones.ttl, a.noDrafts.ttl = folderTTL, zoneTTL, time.Hour
	a.categories.ttl = categoryTTL
	return a, nil
}

// retryPolicy is Microsoft's retry decision: Graph's guidance (and its
// SDKs' retry handler) retries 429, 503 and 504, honouring Retry-After; a
// 500 or 502 is not retried. Network errors and failed dials are as
// httpretry.Default has them.
func retryPolicy(resp *http.Response, err error) (httpretry.Verdict, time.Duration) {
	if err == nil && (resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusBadGateway) {
		return httpretry.Stop, 0
	}
	return httpretry.Default(resp, err)
}

func (a *API) retrying(next http.RoundTripper) *httpretry.Transport {
	return &httpretry.Transport{
		Next:           next,
		Policy:         retryPolicy,
		MaxWait:        a.opts.MaxRetryWait,
		AttemptTimeout: a.opts.HTTPClient.Timeout,
		Backoff:        a.backoff,
	}
}

// client is an account's Graph client: the token transport over the
// retrying one.
func (a *API) client(src providers.TokenSource, account string) *graph {
	hc := &http.Client{
		Transport:     &providers.Transport{Source: src, Base: a.retrying(a.base)},
		CheckRedirect: noRedirects,
	}
	return &graph{api: a, hc: hc, src: src, account: strings.ToLower(strings.TrimSpace(account))}
}

// noRedirects: Graph answers what it means; a redirect would carry the
// bearer token to wherever it points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Identity asks Graph who the account is (/me): its primary SMTP address
// (mail), else its user principal name. Not the id_token's claims: email
// is optional there and preferred_username is not promised to be an
// address, and a check of a connected account has an access token only.
func (a *API) Identity(ctx context.Context, src providers.TokenSource) (string, error) {
	g := a.client(src, "")
	var me struct {
		Mail string `json:"mail"`
		UPN  string `json:"userPrincipalName"`
	}
	q := url.Values{"$select": {"mail,userPrincipalName"}}
	if err := g.do(ctx, req{method: http.MethodGet, path: "/me", query: q, need: "User.Read"}, &me); err != nil {
		return "", err
	}
	for _, s := range []string{me.Mail, me.UPN} {
		s = strings.TrimSpace(s)
		if providers.PlausibleEmail(s) && !strings.Contains(strings.ToUpper(s), "#EXT#") {
			return strings.ToLower(s), nil
		}
	}
	return "", &providers.Error{Kind: providers.ErrForbidden, Message: "Microsoft Graph did not say which email address the account has (it has no mailbox, or is a guest of this tenant)"}
}

// Mail returns the mailbox of the source's account.
func (a *API) Mail(src providers.TokenSource, account string) (providers.Mail, error) {
	if strings.TrimSpace(account) == "" {
		return nil, errors.New("microsoft: Mail needs the account's address")
	}
	return &mailbox{g: a.client(src, account)}, nil
}

// Calendar returns the calendars of the source's account.
func (a *API) Calendar(src providers.TokenSource) (providers.Calendar, error) {
	return &calendars{g: a.client(src, "")}, nil
}

// graph sends one account's requests.
type graph struct {
	api     *API
	hc      *http.Client
	src     providers.TokenSource
	account string
}

// req is one Graph request.
type req struct {
	method string
	path   string     // under the Graph base, escaped, e.g. /me/messages/{id}
	query  url.Values // "$select", …
	body   any        // JSON-encoded when not nil
	prefer []string   // Prefer values besides IdType="ImmutableId"
	// idempotent: a POST that may be repeated (a $batch of GETs, an event
	// carrying a transactionId).
	idempotent bool
	// need names the permission the request needs, for a 403's message.
	need string
}

// maxAnswer bounds what is read of one answer (a page of 100 messages'
// summaries is far smaller; a message body larger).
const maxAnswer = 32 << 20

// do sends r and decodes a 2xx answer's JSON into out (when not nil).
// Failures are *providers.Error (or the token source's *TokenError).
func (g *graph) do(ctx context.Context, r req, out any) error {
	resp, err := g.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return networkError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return mapResponse(resp, body, r.need)
	}
	if len(body) > maxAnswer {
		return &providers.Error{Kind: providers.ErrInvalidAnswer, Status: resp.StatusCode, Message: "Microsoft Graph's answer is larger than mailcal reads"}
	}
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &providers.Error{Kind: providers.ErrInvalidAnswer, Status: resp.StatusCode, Message: "Microsoft Graph's answer is not the JSON it documents"}
	}
	return nil
}

// send makes the HTTP request; a transport failure is mapped.
func (g *graph) send(ctx context.Context, r req) (*http.Response, error) {
	u := g.api.graph.String() + r.path
	if len(r.query) > 0 {
		u += "?" + encodeQuery(r.query)
	}
	var body io.Reader
	var raw []byte
	if r.body != nil {
		var err error
		if raw, err = json.Marshal(r.body); err != nil {
			return nil, &providers.Error{Kind: providers.ErrInvalid, Message: "encoding the request: " + err.Error()}
		}
		body = bytes.NewReader(raw)
	}
	if r.idempotent {
		ctx = httpretry.Idempotent(ctx)
	}
	hr, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalid, Message: "building the request: " + providers.Redact(err.Error())}
	}
	if raw != nil {
		hr.Header.Set("Content-Type", "application/json")
		hr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "mailcal")
	hr.Header.Set("Prefer", strings.Join(append([]string{`IdType="ImmutableId"`}, r.prefer...), ", "))
	resp, err := g.hc.Do(hr)
	if err != nil {
		var te *providers.TokenError
		if errors.As(err, &te) {
			return nil, te // no access token: the caller advises (reconnect, retry later)
		}
		return nil, networkError(err)
	}
	return resp, nil
}

// encodeQuery encodes a query in a stable order with %20 for spaces: OData
// reads a "+" as a plus, not as a space.
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k) // our own names ($select, startDateTime): no escaping needed
			b.WriteByte('=')
			b.WriteString(strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return b.String()
}

// graphError is Graph's error body: {"error":{"code","message",
// "innerError":{…}}}.
type graphError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// mapResponse turns a non-2xx answer into a *providers.Error. need is the
// permission the request needs (named in a 403's message).
func mapResponse(resp *http.Response, body []byte, need string) error {
	var ge graphError
	_ = json.Unmarshal(body, &ge)
	code := providers.SafeCode(ge.Error.Code)
	msg := providers.Redact(ge.Error.Message)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	if code != "" {
		msg = fmt.Sprintf("%s (%s, HTTP %d)", msg, code, resp.StatusCode)
	} else {
		msg = fmt.Sprintf("%s (HTTP %d)", msg, resp.StatusCode)
	}
	e := &providers.Error{Status: resp.StatusCode, Message: msg}
	switch st := resp.StatusCode; {
	case code == "MailboxNotEnabledForRESTAPI" || code == "MailboxNotSupportedForRESTAPI" || code == "ResourceNotFound" && strings.Contains(ge.Error.Message, "mailbox"):
		e.Kind = providers.ErrForbidden
		e.Message = "the account has no Exchange Online mailbox Microsoft Graph can reach (inactive, soft-deleted or on-premises): " + msg
	case code == "ErrorMessageSizeExceeded" || st == http.StatusRequestEntityTooLarge:
		e.Kind = providers.ErrTooLarge
	case code == "ErrorQuotaExceeded" || st == http.StatusInsufficientStorage:
		e.Kind = providers.ErrForbidden
		e.Message = "the mailbox is full: " + msg
	case st == http.StatusUnauthorized:
		e.Kind = providers.ErrUnauthorized
	case st == http.StatusTooManyRequests:
		e.Kind, e.RetryAfter = providers.ErrRateLimited, httpretry.RetryAfter(resp.Header, time.Now())
	case st == http.StatusForbidden:
		e.Kind = providers.ErrForbidden
		if need != "" && (code == "ErrorAccessDenied" || code == "AccessDenied" || code == "Authorization_RequestDenied" || code == "") {
			e.Message = fmt.Sprintf("%s; the call needs the Graph permission %s%s", msg, need, scopeName(need))
		}
	case st == http.StatusNotFound || st == http.StatusGone || code == "ErrorItemNotFound" || code == "ErrorInvalidIdMalformed":
		e.Kind = providers.ErrNotFound
	case st >= 500:
		e.Kind = providers.ErrUnavailable
		if ra := httpretry.RetryAfter(resp.Header, time.Now()); ra > 0 && st == http.StatusServiceUnavailable {
			e.RetryAfter = ra
		}
	default:
		e.Kind = providers.ErrInvalid
	}
	return e
}

// scopeName names mailcal's scope for a Graph permission: " (mailcal scope
// mail.read)".
func scopeName(perm string) string {
	for name, ps := range Spec.Scopes {
		for _, p := range ps {
			if p == perm {
				return " (mailcal scope " + name + ")"
			}
		}
	}
	return ""
}

// mapUncertain is for requests that change something (see
// providers.Uncertain).
func mapUncertain(err error, advice string) error { return providers.Uncertain(err, advice) }

func networkError(err error) error { return providers.NetworkError(err, "Microsoft Graph") }

// tokenKey identifies the access token src gives now, without holding it:
// a short hash ("" when there is none). What a token may do (its scopes)
// is fixed for its lifetime.
func tokenKey(ctx context.Context, src providers.TokenSource) string {
	tok, err := src.Token(ctx)
	if err != nil || tok == nil || tok.AccessToken == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tok.AccessToken))
	return hex.EncodeToString(sum[:12])
}
