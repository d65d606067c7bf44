package memory_test

import (
	"testing"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}

func TestBackend(t *testing.T) {
	if b := memory.New().Backend(); b != "memory" {
		t.Errorf("Backend() = %q", b)
	}
}
