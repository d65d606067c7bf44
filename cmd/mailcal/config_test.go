package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/tools"
)

// TestCallTimeoutSetting: MAILCAL_CALL_TIMEOUT is a Go duration from 1s to
// 1h, 60s when unset; a bad value stops the command with an error naming
// the variable.
func TestCallTimeoutSetting(t *testing.T) {
	for v, want := range map[string]time.Duration{"": tools.DefaultCallTimeout, "90s": 90 * time.Second, " 2m ": 2 * time.Minute, "1s": time.Second} {
		cfg, err := loadConfig(env{getenv: func(name string) string {
			if name == envCallTimeout {
				return v
			}
			return ""
		}})
		if err != nil || cfg.callTimeout != want {
			t.Errorf("MAILCAL_CALL_TIMEOUT=%q: %v, %v; want %s", v, cfg, err, want)
		}
	}
	for _, v := range []string{"60", "soon", "500ms", "-1m", "2h"} {
		_, stderr, code := runInProcess(t, map[string]string{envCallTimeout: v}, "serve")
		if code == 0 || !strings.Contains(stderr, "MAILCAL_CALL_TIMEOUT") || !strings.Contains(stderr, "1s to 1h") {
			t.Errorf("MAILCAL_CALL_TIMEOUT=%q: exit %d, stderr %q; want an error naming the variable", v, code, stderr)
		}
	}
}
