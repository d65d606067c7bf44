// Package google implements the provider-neutral mail and calendar
// interfaces of package providers over the Gmail API (v1) and the Google
// Calendar API (v3), with google.golang.org/api clients.
//
// Every request goes through an oauth2.Transport carrying the account's
// access token over an httpretry.Transport with Google's retry policy (see
// retry.go): idempotent requests are retried on 429, 403 rate-limit reasons
// and 5xx with exponential backoff and jitter, honouring Retry-After, within
// Options.MaxRetryWait and the caller's context; non-idempotent ones (send,
// event insert) only on answers that say the request was not processed
// (429, 403 rate limits, a failed dial).
// Google's answers are mapped to *providers.Error (see errors.go).
package google

import (
	"context"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// Options configure a Provider. The zero value talks to Google.
type Options struct {
	// APIURL is the base URL of the Google APIs: Gmail at
	// {base}/gmail/v1/..., Calendar at {base}/calendar/v3/... Empty: the
	// client libraries' defaults (gmail.googleapis.com, www.googleapis.com).
	// Gmail's media upload uses {scheme://host}/upload/gmail/v1/... (an
	// absolute path, as the client library builds it).
	APIURL string
	// HTTPClient supplies the base transport, redirect policy and the timeout
	// of each attempt (default 30 s). Nil or without a Transport: a clone of
	// http.DefaultTransport keeping Concurrency idle connections per host.
	HTTPClient *http.Client
	// MaxRetryWait is the total time one call may spend waiting between
	// attempts (default 20 s). The caller's context bounds it too.
	MaxRetryWait time.Duration
	// Concurrency bounds the parallel per-message gets of Mail.List
	// (default 20: a default page of 20 messages in one round trip; Gmail's
	// per-user quota, 250 units/s with bursts allowed, takes 20 gets of 5
	// units at once, and 429s are retried).
	Concurrency int
}

// Defaults of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRetryWait = 20 * time.Second
	DefaultConcurrency  = 20
)

// Provider makes Gmail and Calendar clients for access tokens. It is safe
// for concurrent use; Mail and Calendar are cheap.
type Provider struct {
	opts Options
	base http.RoundTripper
	// backoff is the retry transport's wait without Retry-After (tests shorten it).
	backoff func(n int) time.Duration
}

var _ providers.Provider = (*Provider)(nil)

// New returns a Provider.
func New(opts Options) *Provider {
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = DefaultMaxRetryWait
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	opts.APIURL = strings.TrimRight(opts.APIURL, "/")
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	if hc.Timeout <= 0 {
		c := *hc
		c.Timeout = DefaultTimeout
		hc = &c
	}
	opts.HTTPClient = hc
	base := hc.Transport
	if base == nil {
		// http.DefaultTransport keeps 2 idle connections per host: with
		// HTTP/1.1 (a proxy, the fake) every List would reopen the rest.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opts.Concurrency
		base = t
	}
	return &Provider{opts: opts, base: base, backoff: httpretry.DefaultBackoff}
}

// client returns an HTTP client for one access token: oauth2.Transport over
// the retrying transport, whose attempts time out as HTTPClient's requests
// would. The client itself has no Timeout (it would call the deprecated
// oauth2.Transport.CancelRequest, which logs a warning).
func (p *Provider) client(tok *oauth2.Token) *http.Client {
	hc := p.opts.HTTPClient
	retry := &httpretry.Transport{
		Next:           p.base,
		Policy:         retryPolicy,
		MaxWait:        p.opts.MaxRetryWait,
		AttemptTimeout: hc.Timeout,
		Backoff:        p.backoff,
	}
	return &http.Client{
		Transport:     &oauth2.Transport{Source: oauth2.StaticTokenSource(tok), Base: retry},
		CheckRedirect: hc.CheckRedirect,
		Jar:           hc.Jar,
	}
}

func (p *Provider) clientOptions(tok *oauth2.Token, endpoint string) []option.ClientOption {
	o := []option.ClientOption{option.WithHTTPClient(p.client(tok)), option.WithUserAgent("mailcal")}
	if p.opts.APIURL != "" {
		o = append(o, option.WithEndpoint(p.opts.APIURL+endpoint))
	}
	return o
}

// Mail returns the mailbox of the token's account. account is its address,
// the From of sent messages (Gmail rewrites a From that is not one of the
// account's send-as addresses); empty, it is looked up with
// users.getProfile once per mailbox value, which needs a Gmail read scope.
func (p *Provider) Mail(tok *oauth2.Token, account string) providers.Mail {
	svc, err := gmail.NewService(context.Background(), p.clientOptions(tok, "/")...)
	return &mailbox{svc: svc, err: err, account: strings.TrimSpace(account), concurrency: p.opts.Concurrency}
}

// Calendar returns the calendars of the token's account.
func (p *Provider) Calendar(tok *oauth2.Token) providers.Calendar {
	svc, err := calendar.NewService(context.Background(), p.clientOptions(tok, "/calendar/v3/")...)
	return &calendars{svc: svc, err: err}
}
