package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/providers/htmltext"
)

// outgoing is what a call sends out of the mailbox: a message, or the
// invitations of an event. Every tool that sends passes it to
// h.guardOutgoing before it reaches the provider, the one place the
// tenant's policy is enforced on what leaves (send_email today; forwards,
// drafts sent and event updates go through it too when they come).
type outgoing struct {
	what       string   // "the message", "the event's invitation" (singular: errors say "… was not sent")
	recipients []string // the addresses it goes to
	subject    string
	text       string // the body's text, for the confirmation's first lines
	html       string // the HTML body, converted for them when there is no text
	// content is the rest of what leaves (attachments' bytes, an event's
	// times), for the digest a confirmation is bound to.
	content     string
	attachments []string
	// field is the argument that holds the recipients, for errors.
	field string
}

// Policies is what the tools need of the tenants' policies (policy.Store).
type Policies interface {
	Get(ctx context.Context, tenant string) (policy.Policy, error)
	CountSend(ctx context.Context, k store.GrantKey, limit int) error
}

// guardOutgoing enforces the tenant's policy on what a call is about to
// send, and fails closed: a policy that cannot be read stops the send.
// In order: drafts_only, the recipient allowlist, max_recipients, the
// person's confirmation, then the day's send count (last, so that a refused
// or declined send is not counted). A nil Options.Policies enforces nothing.
func (h *handlers) guardOutgoing(ctx context.Context, g grants.Grant, o outgoing) error {
	noteOutgoing(ctx, o)
	if h.opts.Policies == nil {
		return nil
	}
	setStage(ctx, stageAccounts, "", "reading the tenant's policy")
	p, err := h.opts.Policies.Get(ctx, g.Tenant)
	if err != nil {
		slog.WarnContext(ctx, "policy unreadable: refusing to send", "tenant", g.Tenant, "err", err)
		return userErrorf("%s was not sent: the tenant's policy could not be read, and nothing leaves without it; try again in a little while", o.what)
	}
	if p.DraftsOnly {
		return refusal(ctx, userErrorf("%s was not sent: this tenant's policy is drafts_only, so mailcal sends nothing; write the text for the person to send themselves", o.what))
	}
	if refused := p.Refused(o.recipients); len(refused) > 0 {
		return refusal(ctx, userErrorf("%s was not sent: %s %s not on the tenant's recipient allowlist (%s). Remove them from %s, or ask the person to add them with `mailcal policy set --allow-recipients`",
			o.what, strings.Join(refused, ", "), isAre(len(refused)), strings.Join(p.RecipientAllowlist, ", "), o.field))
	}
	if p.MaxRecipients > 0 && len(o.recipients) > p.MaxRecipients {
		return refusal(ctx, userErrorf("%s was not sent: it has %d recipients in %s, and the tenant's policy allows at most %d (max_recipients); send it to fewer people, or in several messages if the person wants that",
			o.what, len(o.recipients), o.field, p.MaxRecipients))
	}
	if err := h.confirm(ctx, p, g, o); err != nil {
		return err
	}
	if p.MaxSendsPerDay > 0 {
		setStage(ctx, stageAccounts, "", "counting the send against the daily limit")
		err := h.opts.Policies.CountSend(ctx, store.GrantKey{Tenant: g.Tenant, Provider: g.Provider, Account: g.Account}, p.MaxSendsPerDay)
		var le *policy.SendLimitError
		switch {
		case errors.As(err, &le):
			return refusal(ctx, userErrorf("%s was not sent: %s", o.what, le.Error()))
		case err != nil:
			slog.WarnContext(ctx, "send counter unavailable: refusing to send", "tenant", g.Tenant, "err", err)
			return userErrorf("%s was not sent: the daily send count could not be updated, and nothing leaves uncounted; try again in a little while", o.what)
		}
	}
	return nil
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// confirmID names the confirmation among a call's input requests; the
// request state binds an answer to what it confirmed (confirmState).
const confirmID = "confirm_send"

// confirm asks the person whether to send, when the policy says so. Under
// "elicit" a client that cannot ask sends without asking; under "required"
// it refuses.
//
// Clients on protocol versions before 2026-07-28 are asked with a
// server-initiated elicitation/create within the call (and its deadline).
// From 2026-07-28 on, the call answers "input required" with the question
// (a multi round-trip request) and the client calls again with the
// person's answer; the answer counts only for the same outgoing content (the
// request state is its digest).
func (h *handlers) confirm(ctx context.Context, p policy.Policy, g grants.Grant, o outgoing) error {
	if p.ConfirmSends != policy.ConfirmElicit && p.ConfirmSends != policy.ConfirmRequired {
		return nil
	}
	state := confirmState(g, o)
	if rt, ok := ctx.Value(roundTripKey{}).(mcp.MultiRoundTripParams); ok && rt.RequestState == state {
		if res := server.ElicitationResponse(rt.InputResponses, confirmID); res != nil {
			return confirmed(ctx, o, res)
		}
	}
	srv := server.ServerFromContext(ctx)
	if srv == nil || !canElicit(ctx) {
		if p.ConfirmSends == policy.ConfirmRequired {
			return refusal(ctx, userErrorf("%s was not sent: the tenant's policy requires the person to confirm each send (confirm_sends required), and this MCP client cannot ask them (it declared no elicitation capability); use a client that supports elicitation, or write the text for the person to send", o.what))
		}
		return nil
	}
	params := mcp.ElicitationParams{
		Message:         confirmation(g, o),
		RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{}},
	}
	if server.IsModernRequest(ctx) {
		return &inputNeeded{server.NewInputRequestBuilder(state).Elicit(confirmID, params).ToolResult()}
	}
	setStage(ctx, stageAccounts, "", "waiting for the person to confirm the send")
	res, err := srv.RequestElicitation(ctx, mcp.ElicitationRequest{Params: params})
	if err != nil {
		if ctx.Err() != nil {
			return err // the call's deadline: deadline.go says what timed out
		}
		return userErrorf("%s was not sent: asking the person to confirm failed (%s)", o.what, err)
	}
	return confirmed(ctx, o, res)
}

// confirmed acts on the person's answer.
func confirmed(ctx context.Context, o outgoing, res *mcp.ElicitationResult) error {
	switch res.Action {
	case mcp.ElicitationResponseActionAccept:
		return nil
	case mcp.ElicitationResponseActionDecline:
		return refusal(ctx, userErrorf("%s was not sent: the person declined it. Do not send it again unless they ask", o.what))
	default:
		return refusal(ctx, userErrorf("%s was not sent: the person dismissed the confirmation (%s). Ask them before trying again", o.what, clipText(string(res.Action), 32)))
	}
}

// inputNeeded is a call's answer that asks the client for input first (a
// multi round-trip request); the tool returns its result as it is.
type inputNeeded struct{ result *mcp.CallToolResult }

func (e *inputNeeded) Error() string { return "the call needs input from the client" }

type roundTripKey struct{}

// confirmState is the request state of a confirmation: a digest of what
// would leave and from which account.
func confirmState(g grants.Grant, o outgoing) string {
	d := sha256.New()
	for _, part := range append([]string{g.Tenant, g.Provider, g.Account, o.what, o.subject, o.text, o.html, o.content}, slices.Concat(o.recipients, o.attachments)...) {
		fmt.Fprintf(d, "%d:%s;", len(part), part)
	}
	return "confirm-send:" + hex.EncodeToString(d.Sum(nil))
}

func clipText(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// canElicit reports whether the call's client declared the elicitation
// capability: on the request itself from protocol 2026-07-28 on, at
// initialize before.
func canElicit(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
	if !ok || s == nil {
		return false
	}
	if _, ok := s.(server.SessionWithElicitation); !ok {
		return false
	}
	return s.GetClientCapabilities().Elicitation != nil
}

// The confirmation shows the body's first confirmLines lines, from at most
// confirmHTMLBytes of an HTML body.
const (
	confirmLines     = 5
	confirmHTMLBytes = 64 << 10
)

// confirmation is the question the person sees: from, to, subject, the
// first lines, the attachments' names.
func confirmation(g grants.Grant, o outgoing) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Send %s from %s?\nTo: %s\n", o.what, g.Account, strings.Join(o.recipients, ", "))
	if o.subject != "" {
		fmt.Fprintf(&b, "Subject: %s\n", o.subject)
	}
	text := o.text
	if text == "" && o.html != "" {
		h := o.html
		if len(h) > confirmHTMLBytes {
			h = strings.ToValidUTF8(h[:confirmHTMLBytes], "")
		}
		text = htmltext.Convert(h)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > confirmLines {
		lines = append(lines[:confirmLines], "…")
	}
	if t := strings.Join(lines, "\n"); t != "" {
		b.WriteString("\n" + t + "\n")
	}
	if len(o.attachments) > 0 {
		fmt.Fprintf(&b, "\nAttachments: %s\n", strings.Join(o.attachments, ", "))
	}
	return strings.TrimRight(b.String(), "\n")
}

// draftsOnlyFilter leaves the tools that send (send_email) out of
// tools/list, and refuses their calls, for a tenant whose policy is
// drafts_only. A policy that cannot be read (a keyring not set up yet, a
// store down) hides nothing: the model should know the tool exists, and
// a call to it is refused by guardOutgoing, which fails closed with the
// error that says what to set up.
//
// What each session was shown is recorded in views, so that a later flip of
// drafts_only is announced to it with notifications/tools/list_changed.
func (h *handlers) draftsOnlyFilter(sending map[string]bool, views *listViews) server.ToolFilterFunc {
	return func(ctx context.Context, ts []mcp.Tool) []mcp.Tool {
		t, err := tenantOf(ctx)
		if err != nil {
			return ts // answered by the tool: no tenant on this request
		}
		p, err := h.opts.Policies.Get(ctx, t)
		if err != nil {
			return ts
		}
		views.listed(ctx, p.DraftsOnly)
		if !p.DraftsOnly {
			return ts
		}
		out := make([]mcp.Tool, 0, len(ts))
		for _, tl := range ts {
			if !sending[tl.Name] {
				out = append(out, tl)
			}
		}
		return out
	}
}
