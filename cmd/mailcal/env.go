package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/mailcal/mailcal/auth/store/keyring"
)

// openKeyring returns the keyring store the configuration selects. It is
// lazy: nothing is opened (and no passphrase is asked for) until first use,
// so that `serve` starts and lists its tools on a machine with no keyring
// set up, and the first call that needs the keyring explains what is missing.
func openKeyring(c *config) *keyring.Store {
	return keyring.LazyStore(c.keyring, func(backend string) {
		slog.Info("keyring opened", "backend", backend)
	})
}

// newLogger returns the process logger: structured, on stderr (stdout is the
// MCP protocol in stdio mode), at the level of --log-level or
// MAILCAL_LOG_LEVEL.
func newLogger(e env, c *config, level, format string, fallback slog.Level) (*slog.Logger, error) {
	if level == "" {
		level = c.logLevel
	}
	lv := fallback
	if level != "" {
		if err := lv.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("%w: log level %q (--log-level or %s): use debug, info, warn or error", errUsage, level, envLogLevel)
		}
	}
	if format == "" {
		format = c.logFormat
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	default:
		return nil, fmt.Errorf("%w: log format %q (--log-format or %s): use text or json", errUsage, format, envLogFormat)
	}
}
