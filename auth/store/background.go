package store

import "context"

type backgroundKey struct{}

// Background marks ctx as the context of a read no caller waits for: a
// cache refreshing ahead of expiry. Stores need not care; instrumentation
// (the store-read counter of the load benchmark, metrics) tells such reads
// apart from those a request waits on.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}
