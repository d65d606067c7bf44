// Package google is the Google provider: its Spec (spec.go: OAuth
// endpoints, scopes, identity, revocation, limits, words) and the
// provider-neutral mail and calendar interfaces of package providers over
// the Gmail API (v1) and the Google Calendar API (v3), with
// google.golang.org/api clients.
//
// Every request goes through providers.Transport carrying the account's
// access token (one refresh and one more try on a 401) over an
// httpretry.Transport with Google's retry policy (see retry.go): idempotent
// requests are retried on 429, 403 rate-limit reasons and 5xx with
// exponential backoff and jitter, honouring Retry-After, within
// Options.MaxRetryWait and the caller's context; non-idempotent ones (send,
// event insert) only on answers that say the request was not processed
// (429, 403 rate limits, a failed dial). A failure to get a token is never
// retried here: the token manager has its own.
// Google's answers are mapped to *providers.Error (see errors.go).
package google

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// Options configure the API clients. The zero value talks to Google.
type Options struct {
	// APIURL is the base URL of the Google APIs: Gmail at
	// {base}/gmail/v1/..., Calendar at {base}/calendar/v3/... Empty: the
	// client libraries' defaults (gmail.googleapis.com, www.googleapis.com).
	// Gmail's media upload uses {scheme://host}/upload/gmail/v1/... (an
	// absolute path, as the client library builds it).
	APIURL string
	// UserinfoURL is OpenID Connect's userinfo endpoint (who the account
	// is); default Google's.
	UserinfoURL string
	// HTTPClient supplies the base transport, redirect policy and the timeout
	// of each attempt (default 30 s). Nil or without a Transport:
	// providers.DefaultTransport(Concurrency), which keeps at least
	// providers.MinIdleConnsPerHost idle connections per host.
	HTTPClient *http.Client
	// MaxRetryWait is the retry budget of one request (default 20 s): no
	// retry starts later than this after its first attempt, attempt time
	// included, so a hanging Google costs one attempt timeout, not one per
	// retry. The caller's context (the tool call's deadline) bounds it too.
	MaxRetryWait time.Duration
	// Concurrency bounds the batch requests of one Mail.List running at
	// once (default 20; a page of at most 100 messages takes two batches of
	// 50) and sizes the idle connections kept (see HTTPClient).
	Concurrency int
}

// Defaults of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRetryWait = 20 * time.Second
	DefaultConcurrency  = 20
)

// API makes Gmail and Calendar clients for accounts' token sources. It is
// safe for concurrent use; Mail and Calendar are cheap.
type API struct {
	opts Options
	base http.RoundTripper
	// backoff is the retry transport's wait without Retry-After (tests shorten it).
	backoff func(n int) time.Duration
	// The APIs' base URLs as the client library resolves them
	// ("https://gmail.googleapis.com/", or APIURL + "/"), for the requests
	// made here (answers.go, batch.go).
	gmailBase, calendarBase *url.URL
	// ownCals keeps each account's own calendars for FreeBusy (freetime.go).
	ownCals ownCalendarCache
	// labels keeps each mailbox's labels (labels.go).
	labels labelCache
}

var _ providers.API = (*API)(nil)

// New returns the API clients' factory.
func New(opts Options) (*API, error) {
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = DefaultMaxRetryWait
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.UserinfoURL == "" {
		opts.UserinfoURL = defaultUserinfoURL
	}
	opts.APIURL = strings.TrimRight(opts.APIURL, "/")
	for _, u := range []string{opts.APIURL, opts.UserinfoURL} {
		if u == "" {
			continue
		}
		if err := providers.CheckEndpoint(u); err != nil {
			return nil, fmt.Errorf("google: %v", err)
		}
	}
	var base http.RoundTripper
	opts.HTTPClient, base = providers.APIClient(opts.HTTPClient, DefaultTimeout, opts.Concurrency)
	p := &API{opts: opts, base: base, backoff: httpretry.DefaultBackoff}
	p.labels.now = time.Now
	// The client library's services are made per call, and only for the
	// requests that go through them (mailbox.service, calendars.service):
	// making one costs as much as a request. Their base URLs are resolved
	// once, here.
	gsvc, err := gmail.NewService(context.Background(), p.clientOptions(opts.HTTPClient, "/")...)
	if err != nil {
		return nil, fmt.Errorf("google: building the Gmail client: %w", err)
	}
	csvc, err := calendar.NewService(context.Background(), p.clientOptions(opts.HTTPClient, "/calendar/v3/")...)
	if err != nil {
		return nil, fmt.Errorf("google: building the Calendar client: %w", err)
	}
	if p.gmailBase, err = url.Parse(gsvc.BasePath); err != nil {
		return nil, fmt.Errorf("google: the Gmail API's base URL: %w", err)
	}
	if p.calendarBase, err = url.Parse(strings.TrimRight(csvc.BasePath, "/") + "/"); err != nil {
		return nil, fmt.Errorf("google: the Calendar API's base URL: %w", err)
	}
	return p, nil
}

// client returns an HTTP client for one account: the token transport over
// the retrying transport, whose attempts time out as HTTPClient's requests
// would.
func (p *API) client(src providers.TokenSource) *http.Client {
	hc := p.opts.HTTPClient
	retry := &httpretry.Transport{
		Next:           p.base,
		Policy:         retryPolicy,
		MaxWait:        p.opts.MaxRetryWait,
		AttemptTimeout: hc.Timeout,
		Backoff:        p.backoff,
	}
	return &http.Client{
		Transport:     &providers.Transport{Source: src, Base: retry},
		CheckRedirect: hc.CheckRedirect,
		Jar:           hc.Jar,
	}
}

func (p *API) clientOptions(hc *http.Client, endpoint string) []option.ClientOption {
	o := []option.ClientOption{option.WithHTTPClient(hc), option.WithUserAgent("mailcal")}
	if p.opts.APIURL != "" {
		o = append(o, option.WithEndpoint(p.opts.APIURL+endpoint))
	}
	return o
}

// Identity asks OpenID Connect's userinfo endpoint which account the
// tokens belong to.
func (p *API) Identity(ctx context.Context, src providers.TokenSource) (string, error) {
	return providers.UserinfoEmail(ctx, p.client(src), p.opts.UserinfoURL, "Google")
}

// Mail returns the mailbox of the source's account. account is its
// address, the From of sent messages (Gmail rewrites a From that is not one
// of the account's send-as addresses).
func (p *API) Mail(src providers.TokenSource, account string) (providers.Mail, error) {
	account = strings.TrimSpace(account)
	if account == "" {
		return nil, errors.New("google: Mail needs the account's address")
	}
	hc := p.client(src)
	b := &batcher{
		hc: hc, src: src, url: p.gmailBase.JoinPath("batch/gmail/v1").String(), prefix: p.gmailBase.JoinPath("gmail/v1").Path + "/",
		maxWait: p.opts.MaxRetryWait, backoff: p.backoff,
	}
	return &mailbox{
		hc: hc, batch: b, api: p.gmailBase.JoinPath("gmail/v1").String() + "/", account: account, concurrency: p.opts.Concurrency, labelCache: &p.labels,
		newService: func() (*gmail.Service, error) {
			return gmail.NewService(context.Background(), p.clientOptions(hc, "/")...)
		},
	}, nil
}

// Calendar returns the calendars of the source's account.
func (p *API) Calendar(src providers.TokenSource) (providers.Calendar, error) {
	hc := p.client(src)
	return &calendars{
		hc: hc, base: p.calendarBase.String(), own: &p.ownCals,
		newService: func() (*calendar.Service, error) {
			return calendar.NewService(context.Background(), p.clientOptions(hc, "/calendar/v3/")...)
		},
	}, nil
}
