package oauth

import (
	"context"

	"github.com/mailcal/mailcal/auth/store"
)

// Admit decides whether the account a flow came back with may be kept: it
// runs once the provider said who the account is (account, lower-case) and
// before the grant is stored. An error refuses the account: no grant is
// written, the provider's refresh token is revoked, and the error is the
// Result's (unwrapped, so the caller can tell its own refusal apart).
type Admit func(ctx context.Context, fs store.FlowState, account string) error

// CompleteChecked is Complete with a check of the account before its grant
// is written: mailcal's OAuth server (auth/mcpauth) uses it to let only the
// people of a tenant's allowed_signins connect by signing in.
func (f *Flows) CompleteChecked(ctx context.Context, state, tenant, code string, admit Admit) Result {
	return f.finish(ctx, state, tenant, code, admit, "sign-in")
}
