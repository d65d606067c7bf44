package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// CheckResult is the structured result of check_account.
type CheckResult struct {
	Account  string   `json:"account"`
	Provider string   `json:"provider"`
	Status   string   `json:"status" jsonschema:"ok when the account answered with its access token"`
	Scopes   []string `json:"scopes"`
}

type checkArgs struct{ account }

func (h *handlers) checkAccount() tool {
	return accountTool(h, decl{
		name: "check_account", title: "Test an account", hints: reads,
		vars: map[string]string{"account_can": "be tested"},
		desc: "Test that a connected account works: gets a fresh access token (refreshing it if needed) and asks the provider " +
			"who the account is. Use it after connecting an account, or when calls fail, to learn whether the account must be reconnected; " +
			"if it must, the answer says why and gives the URL to reconnect.",
	}, func(ctx context.Context, g grants.Grant, _ *checkArgs) (CheckResult, string, error) {
		var email string
		err := h.withAPI(ctx, g, func(api providers.API, src providers.TokenSource) (err error) {
			email, err = api.Identity(ctx, src)
			return err
		})
		if err != nil {
			return CheckResult{}, "", h.providerError(ctx, err, g, "checking the account", "")
		}
		if !strings.EqualFold(email, g.Account) {
			return CheckResult{}, "", userErrorf("the grant stored for %s now belongs to %s: disconnect it and connect the right account", g.Account, email)
		}
		res := CheckResult{Account: g.Account, Provider: g.Provider, Status: "ok", Scopes: nonNil(g.Scopes)}
		return res, fmt.Sprintf("%s (%s) works; scopes: %s", g.Account, g.Provider, strings.Join(g.Scopes, ",")), nil
	})
}
