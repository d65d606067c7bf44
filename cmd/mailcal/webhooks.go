package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/webhook"
)

// envWebhookLoopback lets tenants register a loopback webhook URL (tests,
// a receiver on the same machine); off, a webhook reaches public addresses
// only.
const envWebhookLoopback = "MAILCAL_WEBHOOK_ALLOW_LOOPBACK"

func parseWebhookLoopback(get func(string) string, c *config) error {
	switch v := strings.ToLower(strings.TrimSpace(get(envWebhookLoopback))); v {
	case "", "0", "false", "off":
	case "1", "true", "on":
		c.webhookLoopback = true
	default:
		return fmt.Errorf("%s %q: use 1 (loopback webhook URLs allowed) or 0", envWebhookLoopback, v)
	}
	return nil
}

// webhookStore is the store's webhook contract, nil when it has none (the
// keyring): /api/webhook then answers 501.
func (a *app) webhookStore() store.Webhooks {
	w, _ := a.store.(store.Webhooks)
	return w
}

// webhookAPI serves /api/webhook.
func (a *app) webhookAPI() *webhook.API {
	return &webhook.API{Store: a.webhookStore(), Sealer: a.sealer, AllowLoopback: a.cfg.webhookLoopback, Log: slog.Default()}
}

// startWebhooks queues the grant transitions this process writes and
// delivers the outbox until the returned stop is called (which waits for
// the attempts under way, each bounded). Nothing when the store keeps no
// webhooks. Call it before anything writes a grant.
// The reconnect URLs of its events start with the server's public base
// URL, once setPublicBase has told it.
func (a *app) startWebhooks(ctx context.Context) (stop func()) {
	ws := a.webhookStore()
	if ws == nil {
		return func() {}
	}
	sender := webhook.NewSender(a.cfg.webhookLoopback)
	o := &webhook.Outbox{Store: ws, Sealer: a.sealer, Sender: sender, Log: slog.Default(), BaseURL: a.publicBaseURL, Observe: a.onWebhook}
	a.grants.OnTransition(o.Emit)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx) }()
	return func() {
		cancel()
		<-done
		sender.CloseIdle()
	}
}

// setPublicBase records the server's public base URL (MAILCAL_BASE_URL, or
// its listener's) for the webhooks' reconnect URLs.
func (a *app) setPublicBase(u string) { a.publicBase.Store(&u) }

// publicBaseURL is the URL setPublicBase recorded, "" until then.
func (a *app) publicBaseURL() string {
	if p := a.publicBase.Load(); p != nil {
		return *p
	}
	return ""
}

// forgetWebhook removes a removed tenant's webhook and its pending
// deliveries, if the store keeps webhooks.
func (a *app) forgetWebhook(ctx context.Context, tenantName string) error {
	ws := a.webhookStore()
	if ws == nil {
		return nil
	}
	if err := ws.DeleteWebhook(ctx, tenantName); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("removing the webhook of %s: %w", tenantName, err)
	}
	return nil
}
