package store

import "context"

// Pinger is a store that can say cheaply whether it answers: readiness
// (/readyz) asks it, within a short deadline. A store without it is asked
// to list its tenants instead.
type Pinger interface {
	// Ping returns nil when the store answers reads now; it reads as
	// little as it can and never a secret.
	Ping(ctx context.Context) error
}

// Ping asks s whether it answers: s.Ping when s is a Pinger, else a
// listing of its tenants.
func Ping(ctx context.Context, s Store) error {
	if p, ok := s.(Pinger); ok {
		return p.Ping(ctx)
	}
	_, err := s.ListTenants(ctx)
	return err
}
