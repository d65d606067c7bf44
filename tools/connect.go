package tools

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Connector starts a connection for a tenant and returns the URL the person
// must open.
type Connector interface {
	Connect(ctx context.Context, tenant, provider, scopes, loginHint string) (ConnectLink, error)
}

// ConnectLink is a started connection.
type ConnectLink struct {
	URL       string    `json:"authorization_url" jsonschema:"the URL the person must open in a browser to approve access"`
	ExpiresAt time.Time `json:"expires_at" jsonschema:"the URL stops working after this time (RFC 3339)"`
	Provider  string    `json:"provider"`
	Scopes    []string  `json:"scopes" jsonschema:"the access asked for"`
}

type connectArgs struct {
	Provider  string `json:"provider" arg:"required,max=40,kind=token" jsonschema:"{provider_help}"`
	Scopes    string `json:"scopes,omitempty" arg:"max=200,kind=token" jsonschema:"comma-separated list of {scope_names}; default: {default_scopes} (limited to what the provider name allows)"`
	LoginHint string `json:"login_hint,omitempty" arg:"max=254,kind=token" jsonschema:"email address of the account to connect or reconnect, to preselect it on the consent page"`
}

func (h *handlers) connectAccount() tool {
	return tenantTool(h, decl{
		name: "connect_account", title: "Connect an account", hints: changes, enums: map[string][]string{"provider": h.opts.Providers.Names()},
		desc: "Start connecting a mail/calendar account (or reconnecting one whose status is needs_reauth): " +
			"returns an authorization URL that the person must open in their browser and approve. The account appears in " +
			"list_accounts once they have approved; the URL expires after 10 minutes. Use it when list_accounts shows no " +
			"suitable account, or a tool says the account must be reconnected or lacks a scope. Give the URL to the person; do not open it yourself.",
	}, func(ctx context.Context, t string, a *connectArgs) (ConnectLink, string, error) {
		if err := h.connectAllowed(ctx, t, a); err != nil {
			return ConnectLink{}, "", err
		}
		link, err := h.opts.Connector.Connect(ctx, t, a.Provider, a.Scopes, a.LoginHint)
		if err != nil {
			return ConnectLink{}, "", userErrorf("connect_account: %v", err)
		}
		text := fmt.Sprintf("Ask the person to open this URL and approve access (%s: %s); it expires at %s:\n%s",
			link.Provider, strings.Join(link.Scopes, ", "), link.ExpiresAt.UTC().Format(time.RFC3339), link.URL)
		return link, text, nil
	})
}

// connectAllowed refuses connect_account to a sign-in limited to its own
// account. Reconnecting that account is signing in again: the mail
// provider's consent page lets the person pick any mailbox, and only
// mailcal's OAuth server checks who comes back against allowed_signins
// before anything is connected; a link from this tool would connect
// whichever mailbox was picked.
func (h *handlers) connectAllowed(ctx context.Context, t string, _ *connectArgs) error {
	s, limited, err := h.limitedTo(ctx, t)
	if err != nil || !limited {
		return err
	}
	return userErrorf("connect_account: this connection is signed in as %s (%s), and the workspace policy limits it to that account, which is connected by signing in: "+
		"to reconnect it (new permissions, or after it needs reauthorization), sign in again from your MCP client (its reconnect or re-authenticate action, or remove and add the server). "+
		"To use another mailbox, sign in with that one. An administrator can let signed-in people use and connect every account with `mailcal policy set --tenant %s --shared-accounts true`.",
		s.Account, s.Provider, t)
}
