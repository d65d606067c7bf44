package tokens

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
)

// Outcomes of a health check, per account.
const (
	CheckOK          = "ok"           // refreshed
	CheckNeedsReauth = "needs_reauth" // the grant is dead (now marked in the store)
	CheckFailed      = "error"        // the refresh failed otherwise (endpoint down, client refused…)
	CheckSkipped     = "skipped"      // refreshed recently enough
)

// CheckResult is the outcome of checking one account.
type CheckResult struct {
	Tenant, Provider, Account string
	Outcome                   string // CheckOK, CheckNeedsReauth, CheckFailed or CheckSkipped
	Err                       error  // sanitised; nil when ok or skipped
}

// Run checks every active grant of every tenant about every interval
// (jittered ±10 %, the first pass within a tenth of it) until ctx ends, so
// that revoked or expired grants are marked needs_reauth before a person
// notices. An account refreshed successfully within the last half interval
// is skipped. It needs Config.Tenants.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	if m.cfg.Tenants == nil {
		m.log.Error("token health check not started: no tenant lister configured")
		return
	}
	t := time.NewTimer(time.Duration(rand.Int64N(int64(interval/10) + 1)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := m.check(ctx, interval/2); err != nil && ctx.Err() == nil {
			m.log.Error("token health check: cannot list the grants", "err", err)
		}
		t.Reset(time.Duration(float64(interval) * (0.9 + 0.2*rand.Float64())))
	}
}

// CheckAll refreshes every active grant of every tenant now (through the same
// single refresh per account as Token) and returns the outcome per account.
// The error is for listing tenants or grants.
func (m *Manager) CheckAll(ctx context.Context) ([]CheckResult, error) {
	if m.cfg.Tenants == nil {
		return nil, errors.New("token health check: no tenant lister configured")
	}
	return m.check(ctx, 0)
}

func (m *Manager) check(ctx context.Context, skipWithin time.Duration) ([]CheckResult, error) {
	tenants, err := m.cfg.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []CheckResult
	var errs []error
	for _, tenant := range tenants {
		gs, err := m.cfg.Grants.List(ctx, tenant)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		for _, g := range gs {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if g.Status != grants.StatusActive {
				continue
			}
			r := m.checkOne(ctx, makeKey(tenant, g.Provider, g.Account), skipWithin)
			out = append(out, r)
			attrs := []any{"tenant", r.Tenant, "provider", r.Provider, "account", r.Account, "outcome", r.Outcome}
			var re *ReauthError
			switch {
			case r.Err == nil:
				m.log.Info("token health check", attrs...)
			case errors.As(r.Err, &re):
				m.log.Warn("token health check", append(attrs, "reason", re.Reason, "advice", re.Advice)...)
			default:
				m.log.Warn("token health check", append(attrs, "err", r.Err)...)
			}
		}
	}
	return out, errors.Join(errs...)
}

func (m *Manager) checkOne(ctx context.Context, k key, skipWithin time.Duration) CheckResult {
	r := CheckResult{Tenant: k.tenant, Provider: k.provider, Account: k.account}
	if skipWithin > 0 {
		e := m.entry(k)
		e.mu.Lock()
		recent := !e.lastOK.IsZero() && m.cfg.Now().Sub(e.lastOK) < skipWithin && e.reauth == nil
		e.mu.Unlock()
		if recent {
			r.Outcome = CheckSkipped
			return r
		}
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RefreshTimeout+5*time.Second)
	defer cancel()
	_, err := m.token(ctx, k, true)
	switch {
	case err == nil:
		r.Outcome = CheckOK
	case errors.Is(err, ErrNeedsReauth):
		r.Outcome, r.Err = CheckNeedsReauth, err
	default:
		r.Outcome, r.Err = CheckFailed, err
	}
	return r
}
