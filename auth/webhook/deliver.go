package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Event types.
const (
	AccountConnected    = "account.connected"
	AccountNeedsReauth  = "account.needs_reauth"
	AccountRecovered    = "account.recovered"
	AccountDisconnected = "account.disconnected"
)

// Event is what a delivery's body holds. It never carries a token, a code
// or a key: Data holds the cause of a needs_reauth (already redacted by
// whoever recorded it) and the reconnect URL, nothing else.
type Event struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Time     time.Time         `json:"time"`
	Tenant   string            `json:"tenant"`
	Provider string            `json:"provider"`
	Account  string            `json:"account"`
	Data     map[string]string `json:"data,omitempty"`
}

// NewEventID returns a random event id ("evt_" and 32 hex digits).
func NewEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "evt_" + hex.EncodeToString(b)
}

// ValidType reports whether t is one of the event types.
func ValidType(t string) bool {
	switch t {
	case AccountConnected, AccountNeedsReauth, AccountRecovered, AccountDisconnected:
		return true
	}
	return false
}

// Body encodes an event as delivered.
func (e Event) Body() ([]byte, error) {
	if !ValidType(e.Type) {
		return nil, fmt.Errorf("webhook: unknown event type %q", e.Type)
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	return json.Marshal(e)
}

// Retries: an attempt that fails is tried again after Backoff, at most
// MaxAttempts times in all and not after MaxAge from the event; then the
// delivery is dropped.
const (
	MaxAttempts = 10
	MaxAge      = 24 * time.Hour
	baseDelay   = 10 * time.Second
	maxDelay    = time.Hour
)

// Backoff is the wait after the attempt-th failed attempt (1 for the
// first): 10 s doubled each time, at most an hour, with full jitter over
// its upper half (so that replicas and tenants retrying together spread).
// rnd returns a number in [0, 1); nil uses math/rand/v2.
func Backoff(attempt int, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = mrand.Float64
	}
	d := maxDelay
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(baseDelay<<(attempt-1), maxDelay)
	}
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// GiveUp reports whether a delivery that failed attempts times for an
// event created at created is dropped rather than retried at now.
func GiveUp(attempts int, created, now time.Time) bool {
	return attempts >= MaxAttempts || now.Sub(created) >= MaxAge
}

// Sender makes delivery attempts. Its zero value is not usable: use
// NewSender.
type Sender struct {
	client        *http.Client
	allowLoopback bool
	now           func() time.Time
}

// AttemptTimeout bounds one attempt: connecting, sending and the
// receiver's answer.
const AttemptTimeout = 10 * time.Second

// maxAnswer bounds what is read of a receiver's answer (to reuse the
// connection); the rest is not read.
const maxAnswer = 4 << 10

// NewSender returns a Sender that connects only to addresses CheckAddr
// allows (loopback only with allowLoopback), follows no redirect, uses no
// proxy from the environment, and gives each attempt AttemptTimeout.
func NewSender(allowLoopback bool) *Sender {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: DialControl(allowLoopback)}
	tr := &http.Transport{
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  AttemptTimeout,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
	}
	return &Sender{
		client: &http.Client{
			Transport: tr,
			Timeout:   AttemptTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		allowLoopback: allowLoopback,
		now:           time.Now,
	}
}

// ErrRefused: the URL is not one a webhook may reach (retrying will not
// help until the tenant changes it).
var ErrRefused = errors.New("webhook: URL refused")

// Send makes one attempt to deliver body (an Event's Body, whose id is id)
// to rawURL, signed with each of secrets (the current one first, then the
// one it is replacing while both sign). nil for a 2xx answer. An error
// never holds a secret or the receiver's answer, only its status;
// errors.Is ErrRefused when the URL is not allowed.
func (s *Sender) Send(ctx context.Context, rawURL string, secrets []string, id string, body []byte) error {
	if len(secrets) == 0 {
		return errors.New("webhook: no signing secret")
	}
	u, err := ParseURL(rawURL, s.allowLoopback)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mailcal-webhook/1")
	req.Header.Set(IDHeader, id)
	req.Header.Set(SignatureHeader, SignAll(secrets, s.now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return fmt.Errorf("webhook to %s: no answer within %s", u.Host, AttemptTimeout)
		}
		return fmt.Errorf("webhook to %s: %v", u.Host, unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg := "answered " + strconv.Itoa(resp.StatusCode)
		if resp.StatusCode/100 == 3 {
			msg += " (a redirect: not followed; register the final URL)"
		}
		return fmt.Errorf("webhook to %s: %s", u.Host, msg)
	}
	return nil
}

// unwrapURLError drops *url.Error's repetition of the method and URL (the
// URL is the tenant's and may hold a token of theirs in its path).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// CloseIdle closes idle connections (at shutdown).
func (s *Sender) CloseIdle() { s.client.CloseIdleConnections() }
