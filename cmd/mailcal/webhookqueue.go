package main

import (
	"log/slog"

	"github.com/mailcal/mailcal/auth/webhook"
)

// queueWebhooks queues the grant transitions every process writes (a CLI
// `connect` or `disconnect`, a stdio server's health check), when the
// store keeps webhooks: the http-mode processes, which run the outbox,
// deliver them. Without it, only http processes queued the transitions they
// wrote, and a connection made from the CLI was never reported. An http
// process replaces this with its running outbox (startWebhooks).
func (a *app) queueWebhooks() {
	ws := a.webhookStore()
	if ws == nil {
		return
	}
	if a.cfg.baseURL != "" {
		a.setPublicBase(a.cfg.baseURL)
	}
	o := &webhook.Outbox{Store: ws, Sealer: a.sealer, Log: slog.Default(), BaseURL: a.publicBaseURL}
	a.grants.OnTransition(o.Emit)
}
