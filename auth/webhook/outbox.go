package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
)

// secretKey is the key the signing secret is sealed under: the sealer's
// authenticated data binds it to its tenant, like a refresh token to its
// account, so a row copied to another tenant does not open.
func secretKey(tenant string) store.GrantKey {
	return store.GrantKey{Tenant: tenant, Provider: "webhook", Account: "signing-secret"}
}

// Outbox turns grant transitions into queued deliveries and delivers them.
// Every replica runs one over the shared store: a transition is queued
// once (its key is unique per tenant), and a delivery is claimed by one
// replica at a time (a lease), so each is sent once unless its claimant
// dies mid-attempt (then it is sent again after the lease: receivers drop
// a repeated IDHeader).
type Outbox struct {
	Store  store.Webhooks
	Sealer grants.Sealer
	Sender *Sender
	Log    *slog.Logger
	// BaseURL, when set and answering a URL, makes the reconnect URL of
	// account.needs_reauth (the server's public base URL, known once it
	// listens).
	BaseURL func() string
	// Observe, when set, is told of each attempt's outcome: "delivered",
	// "retried" or "dropped".
	Observe func(outcome string)
	// Poll is how often the outbox is read for due deliveries (retries,
	// and those a dead replica left) when nothing wakes it: 5 s if 0. An
	// event this process queues wakes it at once.
	Poll time.Duration

	now      func() time.Time
	wakeOnce sync.Once
	wake     chan struct{}
}

func (o *Outbox) wakeup() chan struct{} {
	o.wakeOnce.Do(func() { o.wake = make(chan struct{}, 1) })
	return o.wake
}

// leaseFor is how long a claim lasts: well past one attempt.
const leaseFor = 3 * AttemptTimeout

// claimBatch bounds one claim, and parallel is how many attempts run at once.
const (
	claimBatch = 16
	parallel   = 4
)

func (o *Outbox) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

func (o *Outbox) baseURL() string {
	if o.BaseURL == nil {
		return ""
	}
	return strings.TrimSuffix(o.BaseURL(), "/")
}

// EventFor maps a transition to its event type ("" for none).
func EventFor(tr grants.Transition) string {
	switch {
	case tr.To == "":
		return AccountDisconnected
	case tr.From == "" && tr.To == grants.StatusActive:
		return AccountConnected
	case tr.To == grants.StatusActive:
		return AccountRecovered
	case tr.From == grants.StatusActive || tr.From == "":
		return AccountNeedsReauth
	}
	return "" // needs_reauth to revoked: still not working, nothing new to tell
}

// Emit queues the event of a transition if its tenant has a webhook. It is
// a grants.Store OnTransition function: errors are logged, never returned
// (the status change is made whatever happens to its event). The status
// change is written by then, so a caller that gives up now (its call's
// deadline) does not take its event with it: Emit has 5 s of its own.
func (o *Outbox) Emit(ctx context.Context, tr grants.Transition) {
	typ := EventFor(tr)
	if typ == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := o.Store.GetWebhook(ctx, tr.Tenant); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			o.Log.Warn("webhook: event not queued", "tenant", tr.Tenant, "type", typ, "err", err)
		}
		return
	}
	now := o.clock()
	ev := Event{ID: NewEventID(), Type: typ, Time: now, Tenant: tr.Tenant, Provider: tr.Provider, Account: tr.Account}
	if typ == AccountNeedsReauth {
		ev.Data = map[string]string{"cause": tr.Reason}
		if tr.Reason == "" {
			ev.Data["cause"] = tr.To
		}
		if base := o.baseURL(); base != "" {
			ev.Data["reconnect_url"] = base + "/api/integrations/" + url.PathEscape(tr.Provider) + "/authorize?login_hint=" + url.QueryEscape(tr.Account)
		}
	}
	body, err := ev.Body()
	if err == nil {
		err = o.Store.AddDelivery(ctx, store.Delivery{ID: ev.ID, Tenant: tr.Tenant, Key: tr.Key, Body: body, CreatedAt: now, NextAt: now})
	}
	if err != nil && !errors.Is(err, store.ErrExists) {
		o.Log.Warn("webhook: event not queued", "tenant", tr.Tenant, "type", typ, "err", err)
		return
	}
	select {
	case o.wakeup() <- struct{}{}:
	default:
	}
}

// Run delivers due deliveries until ctx ends, then returns once the
// attempts under way have ended (each bounded by AttemptTimeout). It
// prunes deliveries older than twice MaxAge every hour.
func (o *Outbox) Run(ctx context.Context) {
	poll := o.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	wake := o.wakeup()
	t := time.NewTicker(poll)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if now := o.clock(); now.Sub(lastPrune) > time.Hour {
			if _, err := o.Store.PruneDeliveries(ctx, now.Add(-2*MaxAge)); err != nil && ctx.Err() == nil {
				o.Log.Warn("webhook: pruning the outbox", "err", err)
			}
			lastPrune = now
		}
		for o.Once(ctx) == claimBatch {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// Once claims one batch of due deliveries and attempts them, at most
// parallel at once, and returns how many it claimed.
func (o *Outbox) Once(ctx context.Context) int {
	if ctx.Err() != nil {
		return 0
	}
	ds, err := o.Store.ClaimDeliveries(ctx, o.clock(), leaseFor, claimBatch)
	if err != nil {
		if ctx.Err() == nil {
			o.Log.Warn("webhook: claiming deliveries", "err", err)
		}
		return 0
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, d := range ds {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			o.attempt(ctx, d)
		}()
	}
	wg.Wait()
	return len(ds)
}

// attempt makes one attempt of d and records its outcome. The outcome is
// written with a context of its own (bounded) so that shutting down during
// an attempt still records it.
func (o *Outbox) attempt(ctx context.Context, d store.Delivery) {
	err := o.send(ctx, d)
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := o.clock()
	switch {
	case err == nil:
		o.observe("delivered")
		err = o.Store.CompleteDelivery(rec, d.ID, d.Lease)
	case errors.Is(err, ErrRefused) || errors.Is(err, store.ErrNotFound) || GiveUp(d.Attempts+1, d.CreatedAt, now):
		o.Log.Warn("webhook: delivery dropped", "tenant", d.Tenant, "id", d.ID, "attempts", d.Attempts+1, "err", err)
		o.observe("dropped")
		err = o.Store.CompleteDelivery(rec, d.ID, d.Lease)
	default:
		o.observe("retried")
		o.Log.Info("webhook: delivery failed; retrying", "tenant", d.Tenant, "id", d.ID, "attempts", d.Attempts+1, "err", err)
		err = o.Store.RetryDelivery(rec, d.ID, d.Lease, now.Add(Backoff(d.Attempts+1, nil)), err.Error())
	}
	if err != nil {
		o.Log.Warn("webhook: recording a delivery's outcome", "tenant", d.Tenant, "id", d.ID, "err", err)
	}
}

func (o *Outbox) observe(outcome string) {
	if o.Observe != nil {
		o.Observe(outcome)
	}
}

func (o *Outbox) send(ctx context.Context, d store.Delivery) error {
	w, err := o.Store.GetWebhook(ctx, d.Tenant)
	if err != nil {
		return fmt.Errorf("the tenant's webhook: %w", err)
	}
	secret, err := o.Sealer.Open(ctx, secretKey(d.Tenant), w.Secret)
	if err != nil {
		return fmt.Errorf("opening the tenant's signing secret: %w", err)
	}
	secrets := []string{string(secret)}
	// The secret this one replaced signs too until its overlap ends, for a
	// receiver that has not deployed the new one yet. Should it not open
	// (the current one did, under the same key), the delivery goes signed
	// with the current one only rather than not at all.
	if len(w.PreviousSecret) != 0 && o.clock().Before(w.PreviousUntil) {
		prev, err := o.Sealer.Open(ctx, secretKey(d.Tenant), w.PreviousSecret)
		if err != nil {
			o.Log.Warn("webhook: the previous signing secret does not open; signing with the current one only", "tenant", d.Tenant, "err", err)
		} else {
			secrets = append(secrets, string(prev))
		}
	}
	return o.Sender.Send(ctx, w.URL, secrets, d.ID, d.Body)
}
