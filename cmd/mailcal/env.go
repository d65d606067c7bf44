package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mailcal/mailcal/auth/store/keyring"
)

// openStore returns the keyring store configured by the environment. It is
// lazy: nothing is opened (and no passphrase is asked for) until first use,
// so that `serve` starts and lists its tools on a machine with no keyring
// set up, and the first call that needs the keyring explains what is missing.
func openStore(e env) (keyring.KV, error) {
	cfg, err := keyring.ConfigFromEnv(e.getenv)
	if err != nil {
		return nil, err
	}
	return keyring.Lazy(func(ctx context.Context) (keyring.KV, error) {
		s, err := keyring.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		slog.InfoContext(ctx, "keyring opened", "backend", s.Backend())
		return s, nil
	}), nil
}

// newLogger returns the process logger: structured, on stderr (stdout is the
// MCP protocol in stdio mode), at the level of MAILCAL_LOG_LEVEL or --log-level.
func newLogger(e env, level, format string, fallback slog.Level) (*slog.Logger, error) {
	if level == "" {
		level = e.getenv("MAILCAL_LOG_LEVEL")
	}
	lv := fallback
	if level != "" {
		if err := lv.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("%w: log level %q: use debug, info, warn or error", errUsage, level)
		}
	}
	if format == "" {
		format = e.getenv("MAILCAL_LOG_FORMAT")
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	default:
		return nil, fmt.Errorf("%w: log format %q: use text or json", errUsage, format)
	}
}
