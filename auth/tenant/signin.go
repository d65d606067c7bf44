package tenant

import "context"

// Signin is who a request signed in as through mailcal's OAuth server
// (auth/mcpauth): the person's own account, the client they signed in
// with, and the family of tokens their sign-in began. A request
// authenticated with the tenant's API key carries none.
type Signin struct {
	Tenant   string
	Provider string
	Account  string
	Client   string
	Family   string
}

type signinKey struct{}

// WithSignin returns a context carrying s.
func WithSignin(ctx context.Context, s Signin) context.Context {
	return context.WithValue(ctx, signinKey{}, s)
}

// SigninFrom returns the sign-in ctx carries, if any.
func SigninFrom(ctx context.Context) (Signin, bool) {
	s, ok := ctx.Value(signinKey{}).(Signin)
	return s, ok && s.Account != ""
}
