package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// IdentityFunc asks a provider which account an access token belongs to;
// it returns an error wrapping ErrTokenRefused when the provider answers 401.
type IdentityFunc func(ctx context.Context, provider string, tok *oauth2.Token) (string, error)

// ErrTokenRefused is what an IdentityFunc or a provider call returns for an
// upstream 401: the access token is refreshed once and the call tried again.
var ErrTokenRefused = providers.ErrUnauthorized

// CheckResult is the structured result of check_account.
type CheckResult struct {
	Account  string   `json:"account"`
	Provider string   `json:"provider"`
	Status   string   `json:"status" jsonschema:"ok when the account answered with its access token"`
	Scopes   []string `json:"scopes"`
}

type checkArgs struct{ account }

func (*checkArgs) check(time.Time) error { return nil }

func (h *handlers) checkAccount() tool {
	def := mcp.NewTool("check_account",
		mcp.WithDescription("Test that a connected account works: gets a fresh access token (refreshing it if needed) and asks the provider "+
			"who the account is. Use it after connecting an account, or when calls fail, to learn whether the account must be reconnected; "+
			"if it must, the answer says why and gives the URL to reconnect."),
		mcp.WithString("account", mcp.MaxLength(254),
			mcp.Description("email address of the account to test; may be left out when only one account is connected")),
		annotations("Test an account", true, false, true, true),
		mcp.WithOutputSchema[CheckResult](),
	)
	return tool{def: def, readOnly: true, handler: accountTool(h, "", func(ctx context.Context, g grants.Grant, _ *checkArgs) (*mcp.CallToolResult, error) {
		var email string
		err := h.withToken(ctx, g, func(tok *oauth2.Token) error {
			var err error
			email, err = h.opts.Identity(ctx, g.Provider, tok)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(email, g.Account) {
			return nil, userErrorf("the grant stored for %s now belongs to %s: disconnect it and connect the right account", g.Account, email)
		}
		res := CheckResult{Account: g.Account, Provider: g.Provider, Status: "ok", Scopes: nonNil(g.Scopes)}
		return mcp.NewToolResultStructured(res, fmt.Sprintf("%s (%s) works; scopes: %s", g.Account, g.Provider, strings.Join(g.Scopes, ","))), nil
	})}
}

// withProvider runs call with g's provider and an access token (see
// withToken).
func (h *handlers) withProvider(ctx context.Context, g grants.Grant, call func(providers.Provider, *oauth2.Token) error) error {
	p, err := h.opts.Providers(g.Provider)
	if err != nil {
		return err
	}
	return h.withToken(ctx, g, func(tok *oauth2.Token) error { return call(p, tok) })
}

// withToken runs call with an access token for g. If the provider refuses
// the token (401), the token is dropped, refreshed once and the call tried
// once more.
//
// At most perAccountCalls such calls run at once for one account.
func (h *handlers) withToken(ctx context.Context, g grants.Grant, call func(*oauth2.Token) error) error {
	release, err := h.limits.acquire(ctx, g)
	if err != nil {
		return err
	}
	defer release()
	for attempt := 0; ; attempt++ {
		tok, err := h.token(ctx, g)
		if err != nil {
			return err
		}
		err = call(tok)
		if !errors.Is(err, ErrTokenRefused) || attempt > 0 {
			if errors.Is(err, ErrTokenRefused) {
				return userErrorf("%s refused a freshly refreshed access token for %s; check_account again later, or reconnect the account with connect_account", g.Provider, g.Account)
			}
			return err
		}
		h.opts.Tokens.Invalidate(g.Tenant, g.Provider, g.Account, tok.AccessToken)
	}
}
