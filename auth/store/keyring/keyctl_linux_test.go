package keyring

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/storetest"
)

// TestKeyctl uses the kernel's user keyring. It is shared by every process of
// the user, so each store gets a unique service (a keyring of that name inside
// the user keyring), removed afterwards.
func TestKeyctl(t *testing.T) {
	if testing.Short() && !requireKeyrings() {
		t.Skip("real keyring test; skipped in -short mode")
	}
	// Check that the syscalls work here (Docker's default seccomp profile blocks them).
	id, err := unix.AddKey("user", "mailcal-store-test-"+randomHex(4), []byte("x"), unix.KEY_SPEC_USER_KEYRING)
	if err == nil {
		_, err = unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", "mailcal-store-test-nonexistent", 0)
		if err == unix.ENOKEY {
			err = nil
		}
		unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
	}
	if err != nil {
		t.Skipf("the kernel keyring is not usable here (%v): kernel without keys support, or a seccomp profile blocking add_key/keyctl", err)
	}

	ctx := context.Background()
	exerciseStore(t, func(t *testing.T, service string) KV {
		s, err := Open(ctx, Config{Backend: "keyctl", Service: service})
		if err != nil {
			t.Fatalf("Open(keyctl): %v", err)
		}
		t.Cleanup(func() { unlinkKeyctlService(service) })
		return s
	})
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			service := "mailcal-st-" + randomHex(4)
			s, err := OpenStore(ctx, Config{Backend: "keyctl", Service: service})
			if err != nil {
				t.Fatalf("OpenStore(keyctl): %v", err)
			}
			t.Cleanup(func() { unlinkKeyctlService(service) })
			return s
		})
	})
}

// unlinkKeyctlService removes a service's keyring from the user keyring.
func unlinkKeyctlService(service string) {
	if kr, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", service, 0); err == nil {
		unix.KeyctlInt(unix.KEYCTL_UNLINK, kr, unix.KEY_SPEC_USER_KEYRING, 0, 0)
	}
}
