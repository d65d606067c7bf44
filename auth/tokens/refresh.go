package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// refresh reads the account's grant and gets a new access token with its
// refresh token. It runs in the flight goroutine on a long-lived context.
//
// It holds the account's grant lock throughout, shared by every process on
// the store: a refresh in another process (a second server, the CLI's
// health check) finishes, and saves the refresh token it rotated, before
// this one reads the grant. So two processes never spend the same refresh
// token, and an invalid_grant answer is for the token the store holds now,
// not one another process already replaced.
func (m *Manager) refresh(ctx context.Context, e *entry) (*cached, error) {
	k := e.k
	unlock, err := m.cfg.Grants.Lock(ctx, k.tenant, k.provider, k.account)
	if err != nil {
		return nil, fmt.Errorf("refreshing the access token of account %s (%s): %w", k.account, k.provider, err)
	}
	defer unlock()
	// A reconnect between reading the grant and writing it back makes us
	// start over with the new grant; twice in one refresh is not worth more.
	for round := 0; round < 2; round++ {
		gr, err := m.cfg.Grants.Get(ctx, k.tenant, k.provider, k.account)
		if err != nil {
			return nil, err // grants.ErrNotFound (wrapped) or a store error; neither holds a secret
		}
		switch {
		case gr.Status == grants.StatusNeedsReauth || gr.Status == grants.StatusRevoked:
			return nil, reauthFromGrant(gr)
		case gr.RefreshToken == "":
			return nil, &ReauthError{Tenant: k.tenant, Provider: k.provider, Account: gr.Account,
				Reason: "no refresh token is stored for it", ConnectedAt: gr.ConnectedAt}
		}

		e.mu.Lock()
		dead, known, pending := e.deadRT, e.reauth, e.pending
		e.pending = nil
		e.mu.Unlock()
		if dead != "" && gr.RefreshToken == dead && known != nil {
			// Still the refresh token the provider refused (marking the
			// grant failed): do not ask again.
			return nil, known
		}
		if pending != nil && pending.old == gr.RefreshToken {
			// A rotated refresh token we could not save last time: save it
			// first, then use it.
			err := m.cfg.Grants.Update(ctx, k.tenant, k.provider, k.account, func(cur *grants.Grant) error {
				if cur.RefreshToken != pending.old {
					return errReplaced
				}
				cur.RefreshToken = pending.new
				return nil
			})
			if errors.Is(err, errReplaced) {
				continue // reconnected meanwhile: use the new grant
			}
			if err != nil {
				m.setPending(e, pending)
				return nil, m.persistError(k, err)
			}
			gr.RefreshToken = pending.new
			m.log.Info("rotated refresh token saved", "tenant", k.tenant, "provider", k.provider, "account", k.account)
		}

		if c := m.shared(e, gr); c != nil {
			return c, nil // another process refreshed meanwhile
		}

		prov, err := m.cfg.Providers.Get(gr.Provider)
		if err == nil {
			err = prov.Configured() // says how to set the OAuth client up
		}
		if err != nil {
			return nil, fmt.Errorf("refreshing the access token of account %s (%s): %w", gr.Account, gr.Provider, err)
		}
		start := m.cfg.Now()
		tok, err := m.exchange(ctx, prov, gr)
		if err != nil {
			var re *ReauthError
			if !errors.As(err, &re) {
				return nil, err
			}
			// invalid_grant. Mark the grant, unless it was replaced meanwhile
			// (then try the new one).
			gerr := m.cfg.Grants.Update(ctx, k.tenant, k.provider, k.account, func(cur *grants.Grant) error {
				if cur.RefreshToken != gr.RefreshToken && cur.Status == grants.StatusActive {
					return errReplaced
				}
				cur.AccessToken, cur.AccessExpiry = "", time.Time{}
				cur.Status = grants.StatusNeedsReauth
				cur.StatusReason = re.Reason
				cur.StatusAt = re.FailedAt.UTC()
				return nil
			})
			if errors.Is(gerr, errReplaced) {
				continue // reconnected meanwhile: try the new grant
			}
			e.mu.Lock()
			e.deadRT = gr.RefreshToken
			e.mu.Unlock()
			if gerr != nil && !errors.Is(gerr, grants.ErrNotFound) {
				m.log.Error("could not mark grant needs_reauth", "tenant", k.tenant, "provider", k.provider, "account", k.account, "err", gerr)
			}
			m.log.Warn("grant refused by provider; marked needs_reauth",
				"tenant", k.tenant, "provider", k.provider, "account", k.account,
				"reason", re.Reason, "advice", re.Advice)
			return nil, re
		}

		c := m.newCached(tok, start)
		rotated := tok.RefreshToken != "" && tok.RefreshToken != gr.RefreshToken
		if !rotated && !m.cfg.ShareAccessTokens {
			return c, nil
		}
		// Rotated: save the new refresh token before anyone gets the new
		// access token. Until the write succeeds the store holds the
		// previous refresh token, which the provider still honours. Shared:
		// save the access token for the other processes, in the same write.
		rt := gr.RefreshToken
		if rotated {
			rt = tok.RefreshToken
		}
		gerr := m.save(ctx, gr, rt, c)
		switch {
		case !rotated:
			if gerr != nil && !errors.Is(gerr, errReplaced) && !errors.Is(gerr, grants.ErrNotFound) {
				// The token works; the other processes refresh on their own.
				// (Reconnected or disconnected meanwhile: nothing to share.)
				m.log.Warn("could not share a new access token through the store", "tenant", k.tenant, "provider", k.provider, "account", k.account, "err", gerr)
			}
			return c, nil
		case errors.Is(gerr, grants.ErrNotFound):
			// Disconnected during the refresh: do not bring it back.
			return nil, gerr
		case errors.Is(gerr, errReplaced):
			continue // reconnected during the refresh: use the new grant
		case gerr != nil:
			m.setPending(e, &rotation{old: gr.RefreshToken, new: tok.RefreshToken})
			return nil, m.persistError(k, gerr)
		}
		m.log.Info("rotated refresh token saved", "tenant", k.tenant, "provider", k.provider, "account", k.account)
		return c, nil
	}
	return nil, fmt.Errorf("account %s (%s) was reconnected during a token refresh; try again", k.account, k.provider)
}

// minShared: an access token from the store with less time left than this
// is not taken; the process refreshes instead.
const minShared = 30 * time.Second

// shared returns the access token another process saved in gr, if this
// process should use it rather than refresh: one it has not been using
// (its own one is due for a refresh) nor seen refused, with time left.
func (m *Manager) shared(e *entry, gr grants.Grant) *cached {
	if !m.cfg.ShareAccessTokens || gr.AccessToken == "" {
		return nil
	}
	e.mu.Lock()
	rejected := e.rejected
	e.mu.Unlock()
	if gr.AccessToken == rejected {
		return nil
	}
	if c := e.cur.Load(); c != nil && c.tok.AccessToken == gr.AccessToken {
		return nil
	}
	left := gr.AccessExpiry.Sub(m.cfg.Now())
	if left < minShared {
		return nil
	}
	c := &cached{expiry: gr.AccessExpiry, refreshAt: gr.AccessExpiry.Add(-min(m.cfg.Margin, left/2)), shared: true}
	c.tok = &oauth2.Token{AccessToken: gr.AccessToken, TokenType: "Bearer", Expiry: c.expiry, ExpiresIn: int64(left / time.Second)}
	return c
}

// save writes a refresh's outcome into the grant read under the lock: the
// refresh token rt (rotated or not) and, when shared, the access token.
// One write when no one wrote the grant since it was read, else a
// read-modify-write that answers errReplaced if the refresh token changed
// (a reconnect).
func (m *Manager) save(ctx context.Context, gr grants.Grant, rt string, c *cached) error {
	apply := func(cur *grants.Grant) error {
		if cur.RefreshToken != gr.RefreshToken {
			return errReplaced
		}
		cur.RefreshToken = rt
		cur.AccessToken, cur.AccessExpiry = "", time.Time{}
		if m.cfg.ShareAccessTokens && !c.expiry.IsZero() {
			cur.AccessToken, cur.AccessExpiry = c.tok.AccessToken, c.expiry
		}
		return nil
	}
	next := gr
	_ = apply(&next) // gr is its own current version
	if _, err := m.cfg.Grants.WriteIf(ctx, next); !errors.Is(err, store.ErrConflict) {
		return err
	}
	return m.cfg.Grants.Update(ctx, gr.Tenant, gr.Provider, gr.Account, apply)
}

func (m *Manager) setPending(e *entry, r *rotation) {
	e.mu.Lock()
	e.pending = r
	e.mu.Unlock()
}

func (m *Manager) persistError(k key, err error) error {
	m.log.Error("could not save a rotated refresh token; the access token is not used",
		"tenant", k.tenant, "provider", k.provider, "account", k.account, "err", err)
	return fmt.Errorf("account %s (%s): the provider issued a new refresh token that could not be saved (the call fails so that it is not lost): %w", k.account, k.provider, err)
}

// newCached turns a token answer into what is handed out: no refresh token,
// no raw answer, the expiry on our clock.
func (m *Manager) newCached(tok *oauth2.Token, start time.Time) *cached {
	var lifetime time.Duration
	switch {
	case tok.ExpiresIn > 0:
		lifetime = time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		lifetime = time.Until(tok.Expiry) // x/oauth2 computed it on the real clock
	}
	c := &cached{}
	if lifetime > 0 {
		c.expiry = start.Add(lifetime)
		margin := min(m.cfg.Margin, lifetime/2)
		c.refreshAt = c.expiry.Add(-margin)
	} else {
		// No expiry given: assume the usual hour; a 401 (Invalidate)
		// refreshes earlier.
		c.refreshAt = start.Add(time.Hour - m.cfg.Margin)
	}
	c.tok = &oauth2.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, Expiry: c.expiry}
	if lifetime > 0 {
		c.tok.ExpiresIn = int64(lifetime / time.Second)
	}
	return c
}

// exchange makes the refresh request. Transient failures (5xx, 429, 408,
// network errors, an OAuth temporarily_unavailable or server_error answer)
// are retried by the token client's httpretry transport, with backoff and
// jitter or the provider's Retry-After, within ctx. It returns a
// *ReauthError for invalid_grant and a *RefreshError otherwise.
func (m *Manager) exchange(ctx context.Context, prov *providers.Provider, gr grants.Grant) (*oauth2.Token, error) {
	conf := prov.OAuth2(gr.Scopes, "")
	// A refresh request may be repeated: a provider that rotates refresh
	// tokens keeps the previous one valid, and one that does not answers
	// the same way twice.
	ctx, attempts := httpretry.CountAttempts(httpretry.Idempotent(ctx))
	// A one-shot source: the Manager does the caching and sees rotation.
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: gr.RefreshToken}).Token()
	if err == nil {
		return tok, nil
	}
	ferr := m.classify(err, gr, prov, max(attempts(), 1))
	if ferr.reauth != nil {
		return nil, ferr.reauth
	}
	return nil, ferr.refresh
}

// tokenPolicy is the retry decision of token-endpoint answers: httpretry's
// default (429, 5xx, network errors), 408, and the OAuth error codes that
// say a later try may succeed (RFC 6749 5.2 and 4.1.2.1).
func tokenPolicy(resp *http.Response, err error) (httpretry.Verdict, time.Duration) {
	if resp != nil {
		switch resp.StatusCode {
		case http.StatusRequestTimeout:
			return httpretry.RetryIfIdempotent, httpretry.RetryAfter(resp.Header, time.Now())
		case http.StatusBadRequest, http.StatusUnauthorized:
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(httpretry.PeekBody(resp, 16<<10), &e) == nil &&
				(e.Error == "temporarily_unavailable" || e.Error == "server_error") {
				return httpretry.RetryIfIdempotent, httpretry.RetryAfter(resp.Header, time.Now())
			}
		}
	}
	return httpretry.Default(resp, err)
}

// tokenClient is the HTTP client of token-endpoint requests: hc's transport
// and timeout per attempt, under the retrying transport.
func tokenClient(cfg Config, log *slog.Logger) *http.Client {
	base := cfg.HTTPClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{
		Transport: &httpretry.Transport{
			Next:           base,
			Policy:         tokenPolicy,
			MaxAttempts:    cfg.RetryAttempts,
			MaxWait:        cfg.RefreshTimeout,
			AttemptTimeout: cfg.HTTPClient.Timeout,
			// RetryBase, then ×4 (250ms, 1s, …), ±50 %.
			Backoff: func(n int) time.Duration {
				d := cfg.RetryBase << (2 * min(n-1, 8))
				return time.Duration(float64(d) * (0.5 + rand.Float64()))
			},
			OnRetry: func(req *http.Request, attempt int, resp *http.Response, err error, wait time.Duration) {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				log.Debug("token endpoint failed; retrying", "host", req.URL.Host, "attempt", attempt, "status", status, "wait", wait)
			},
		},
		CheckRedirect: cfg.HTTPClient.CheckRedirect,
	}
}

type classified struct {
	reauth  *ReauthError
	refresh *RefreshError
}

// deadGrantCodes are the token endpoint's answers that no later refresh
// can change: the person must connect again. invalid_grant is RFC 6749's;
// interaction_required is what the Microsoft identity platform answers a
// refresh when multi-factor sign-in or a Conditional Access policy wants the
// person back (OpenID Connect's code for the same).
var deadGrantCodes = map[string]bool{"invalid_grant": true, "interaction_required": true}

// classify turns an x/oauth2 error into a sanitised one: only the HTTP
// status, the OAuth error code and description survive, never the body.
func (m *Manager) classify(err error, gr grants.Grant, prov *providers.Provider, attempt int) classified {
	secrets := []string{gr.RefreshToken, prov.Config.ClientSecret}
	fe := &RefreshError{Tenant: gr.Tenant, Provider: gr.Provider, Account: gr.Account, Attempts: attempt}
	var re *oauth2.RetrieveError
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &re):
		fe.Code = sanitize(re.ErrorCode, secrets...)
		fe.Description = sanitize(re.ErrorDescription, secrets...)
		what := fe.Code
		if fe.Description != "" {
			what += ": " + fe.Description
		}
		if deadGrantCodes[fe.Code] {
			re := &ReauthError{
				Tenant: gr.Tenant, Provider: gr.Provider, Account: gr.Account,
				Reason:      fmt.Sprintf("%s refused its refresh token (%s)", prov.Title, what),
				ConnectedAt: gr.ConnectedAt, FailedAt: m.cfg.Now(),
			}
			if prov.DeadGrantAdvice != nil {
				re.Advice = prov.DeadGrantAdvice(providers.DeadGrant{Code: fe.Code, Description: fe.Description,
					ConnectedAt: re.ConnectedAt, FailedAt: re.FailedAt})
			}
			return classified{reauth: re}
		}
		status := "an error"
		if re.Response != nil {
			fe.Status = re.Response.StatusCode
			status = strconv.Itoa(fe.Status)
			if t := http.StatusText(fe.Status); t != "" {
				status += " " + t
			}
			fe.RetryAfter = httpretry.RetryAfter(re.Response.Header, m.cfg.Now())
		}
		fe.Temporary = fe.Status >= 500 || fe.Status == http.StatusTooManyRequests ||
			fe.Status == http.StatusRequestTimeout ||
			fe.Code == "temporarily_unavailable" || fe.Code == "server_error"
		fe.detail = prov.Title + "'s token endpoint answered HTTP " + status
		if what != "" {
			fe.detail += " (" + what + ")"
		}
	case errors.Is(err, context.Canceled) && errors.Is(m.base.Err(), context.Canceled):
		fe.detail = "the token manager was closed"
		fe.cause = context.Canceled
	case errors.As(err, &ue), errors.As(err, &ne):
		fe.Temporary = true
		fe.detail = prov.Title + "'s token endpoint could not be reached: " + sanitize(causeText(err), secrets...)
		if ue != nil {
			fe.cause = ue.Err
		} else {
			fe.cause = ne
		}
	default:
		// Parse errors and the like: their texts quote no body.
		fe.detail = sanitize(err.Error(), secrets...)
	}
	return classified{refresh: fe}
}

// causeText is a network error's text without the request URL.
func causeText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// reauthFromGrant is the error for a grant the store already marks dead.
func reauthFromGrant(gr grants.Grant) *ReauthError {
	reason, at := gr.StatusReason, gr.StatusAt
	if reason == "" {
		if gr.Status == grants.StatusRevoked {
			reason = "it was disconnected"
		} else {
			reason = "its grant was marked needs_reauth"
		}
	}
	return &ReauthError{Tenant: gr.Tenant, Provider: gr.Provider, Account: gr.Account,
		Reason: reason, ConnectedAt: gr.ConnectedAt, FailedAt: at}
}
