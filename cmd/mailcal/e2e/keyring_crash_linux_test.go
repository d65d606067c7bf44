//go:build linux

package e2e

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EKeyringWriteCutShort: a write of the grant cut short (the server's
// file-size limit drops to one byte, as a full disk or a crash would cut it)
// leaves the grant as it was: readable, with a refresh token that works.
func TestE2EKeyringWriteCutShort(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{RotateRefreshTokens: true})
	key, s, c := fx.connectAlice(t, "mail.read")
	fx.checkOK(t, "before the limit", c, alice)
	before := fx.storedGrant(t, "a", alice)

	lim := unix.Rlimit{Cur: 1, Max: 1}
	if err := unix.Prlimit(s.cmd.Process.Pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		t.Skipf("cannot limit the server's file size: %v", err)
	}
	fx.fg.ExpireAccessTokens()
	// The rotated refresh token cannot be saved: the call fails, so that the
	// new access token is not used without it.
	fx.callFails(t, c, "check_account", map[string]any{"account": alice}, "could not be saved")
	s.cmd.Process.Kill()
	<-s.done

	g, err := fx.k.tryGrant("a", "google", alice)
	if err != nil || g.RefreshToken != before.RefreshToken || g.Version != before.Version {
		t.Fatalf("after the cut write the grant reads %v (version %d, the refresh token before the write: %v); want it unchanged",
			err, g.Version, g.RefreshToken == before.RefreshToken)
	}
	s2 := fx.startHTTP(t)
	c2 := mcpgoHTTP(t, s2, "/mcp", "Authorization", "Bearer "+key, false)
	fx.checkOK(t, "the next server", c2, alice)
}
