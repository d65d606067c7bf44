package tenant

import "context"

type ctxKey struct{}

// WithName returns a context carrying the authenticated tenant's name.
func WithName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, ctxKey{}, name)
}

// FromContext returns the tenant carried by ctx, if any.
func FromContext(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(ctxKey{}).(string)
	return name, ok && name != ""
}
