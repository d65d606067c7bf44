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

// One memory store is shared by two values only as the same value.
func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		s := memory.New()
		return s, s
	})
}

func TestBackend(t *testing.T) {
	if b := memory.New().Backend(); b != "memory" {
		t.Errorf("Backend() = %q", b)
	}
}

func TestConformanceDataKeys(t *testing.T) {
	storetest.RunDataKeys(t, func(t *testing.T) store.DataKeys { return memory.New() })
}
