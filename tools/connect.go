package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
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
	Provider  string `json:"provider" jsonschema:"google (Gmail and Google Calendar), gmail (mail only) or calendar (calendar only)"`
	Scopes    string `json:"scopes,omitempty" jsonschema:"comma-separated list of mail.read, mail.send, mail.modify, calendar.read, calendar.write; default: mail.read,mail.send,calendar.read (limited to what the provider alias allows)"`
	LoginHint string `json:"login_hint,omitempty" jsonschema:"email address of the account to connect or reconnect, to preselect it on the consent page"`
}

func (h *handlers) connectAccount() tool {
	def := mcp.NewTool("connect_account",
		mcp.WithDescription("Start connecting a mail/calendar account (or reconnecting one whose status is needs_reauth): "+
			"returns an authorization URL that the person must open in their browser and approve. The account appears in "+
			"list_accounts once they have approved; the URL expires after 10 minutes. Use it when list_accounts shows no "+
			"suitable account, or a tool says the account must be reconnected or lacks a scope. Give the URL to the person; do not open it yourself."),
		mcp.WithString("provider", mcp.Required(), mcp.Enum("google", "gmail", "calendar"),
			mcp.Description("google (Gmail and Google Calendar), gmail (mail scopes only) or calendar (calendar scopes only)")),
		mcp.WithString("scopes", mcp.MaxLength(200),
			mcp.Description("comma-separated list of mail.read, mail.send, mail.modify, calendar.read, calendar.write; default: mail.read,mail.send,calendar.read (limited to what the provider allows)")),
		mcp.WithString("login_hint", mcp.MaxLength(254),
			mcp.Description("email address of the account to connect or reconnect, to preselect it on the consent page")),
		annotations("Connect an account", false, false, false, true),
		mcp.WithOutputSchema[ConnectLink](),
	)
	return tool{def: def, readOnly: false, handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		var args connectArgs
		if err := bind(req.Params.Arguments, &args); err != nil {
			return nil, err
		}
		if err := text("scopes", args.Scopes, 200); err != nil {
			return nil, err
		}
		if err := token("login_hint", args.LoginHint, 254); err != nil {
			return nil, err
		}
		link, err := h.opts.Connector.Connect(ctx, t, args.Provider, args.Scopes, args.LoginHint)
		if err != nil {
			return mcp.NewToolResultError("connect_account: " + err.Error()), nil
		}
		text := fmt.Sprintf("Ask the person to open this URL and approve access (%s: %s); it expires at %s:\n%s",
			link.Provider, strings.Join(link.Scopes, ", "), link.ExpiresAt.UTC().Format(time.RFC3339), link.URL)
		return mcp.NewToolResultStructured(link, text), nil
	}}
}
