package tenant

import (
	"errors"
	"testing"

	"github.com/mailcal/mailcal/auth/store/memory"
)

// Refused spends the same per-source budget as wrong keys: a source that
// used it up on refused credentials gets a *RateLimitError for its next
// wrong key too, another source is not affected, and "" is never limited.
func TestRefusedSharesTheWrongKeyBudget(t *testing.T) {
	a := NewAuthenticator(NewRegistry(memory.New()))
	for i := range wrongKeyBurst {
		if err := a.Refused("192.0.2.1"); err != nil {
			t.Fatalf("refusal %d of the burst limited: %v", i+1, err)
		}
	}
	var limited *RateLimitError
	if err := a.Refused("192.0.2.1"); !errors.As(err, &limited) || limited.RetryAfter <= 0 {
		t.Fatalf("refusal past the burst = %v; want a *RateLimitError with a wait", err)
	}
	if _, _, err := a.AuthenticateFrom(t.Context(), "mck_wrong", "192.0.2.1"); !errors.As(err, &limited) {
		t.Fatalf("a wrong key after the refusals = %v; want it limited", err)
	}
	if err := a.Refused("192.0.2.2"); err != nil {
		t.Fatalf("another source limited: %v", err)
	}
	for range 2 * wrongKeyBurst {
		if err := a.Refused(""); err != nil {
			t.Fatalf(`source "" limited: %v`, err)
		}
	}
}
