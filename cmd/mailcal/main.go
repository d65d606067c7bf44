// Command mailcal is an MCP server that gives AI agents safe access to a
// person's mail and calendar. Run `mailcal help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/mailcal/mailcal/providers/registry"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; a
// `go install` build falls back to the module version.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// env is what a command needs from its surroundings, so that tests can run
// commands in-process with their own streams and environment.
type env struct {
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	getenv  func(string) string
	environ func() []string // every variable, to warn about unknown MAILCAL_* ones; nil: no warning
	// setGC applies the garbage collector's settings for serving over HTTP
	// (gc.go); nil leaves the process's as they are (tests in-process).
	setGC func(gcSettings)
}

const usageText = `mailcal: an MCP server for your mail and calendar ({products}).

Usage:
  mailcal serve [--transport stdio|http] [--addr 127.0.0.1:8080] [--tenant NAME] [--read-only]
      Serve MCP. stdio (the default) is what a desktop assistant launches;
      http serves /mcp (streamable HTTP), /sse + /message (legacy SSE),
      authenticated by a tenant's API key, and /healthz, /readyz, /metrics.
  mailcal connect PROVIDER [--tenant NAME] [--scopes LIST] [--read-only] [--no-browser] [--login-hint EMAIL]
      connect an account through its provider's consent page; prints the
      account. PROVIDER: {providers}
  mailcal accounts [--tenant NAME] [--json]
      list the tenant's connected mail/calendar accounts
  mailcal disconnect PROVIDER ACCOUNT [--tenant NAME]
      revoke the account's access at the provider and forget it
  mailcal tenant add NAME        create a tenant (workspace); prints its API key once
  mailcal tenant list            list tenants
  mailcal tenant remove NAME     remove a tenant: revokes and deletes its accounts; its key stops working
  mailcal policy show|set [--tenant NAME] [--allow-recipients LIST] [--max-sends-per-day N]
                 [--max-recipients N] [--drafts-only] [--confirm-sends off|elicit|required]
                 [--allowed-signins LIST]
      show or change the tenant's guard rails (see mailcal policy --help)
  mailcal audit [--tenant NAME] [--since DURATION|TIME] [--json]
      read the audit log (MAILCAL_AUDIT_LOG): one line per state-changing tool call
  mailcal migrate                apply the database migrations (MAILCAL_DATABASE_URL)
  mailcal keys rotate --new-key-file FILE
      re-wrap every tenant's data key under a new master key (database store)
  mailcal version                print the version
  mailcal help [COMMAND]         show help (also: mailcal COMMAND --help)

Tokens and API-key hashes are kept in a keyring: the OS keyring where one is
usable, else an encrypted file that needs MAILCAL_KEYRING_PASSWORD. Set
MAILCAL_KEYRING_BACKEND (auto, file, secret-service, pass, keyctl, keychain,
wincred, kwallet) to choose. MAILCAL_DATABASE_URL=postgres://… keeps them in
PostgreSQL instead, shared by replicas. Logs go to stderr; MAILCAL_LOG_LEVEL sets the
level (debug, info, warn, error).
`

// usage is the main help, naming the providers from their specs.
func usage() string {
	var products []string
	for _, s := range registry.Specs() {
		products = append(products, s.Products)
	}
	return strings.NewReplacer("{products}", strings.Join(products, "; "), "{providers}", providerHelp()).Replace(usageText)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ, setGC: applyGC}
	os.Exit(run(ctx, os.Args[1:], e))
}

// errUsage marks an error in the command line: exit status 2.
var errUsage = errors.New("usage")

// errReported: the command failed and has said why already: exit status 1.
var errReported = errors.New("failed")

func run(ctx context.Context, args []string, e env) int {
	err := dispatch(ctx, args, e)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errReported):
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintln(e.stderr, "mailcal:", err)
		fmt.Fprintln(e.stderr, "Run `mailcal help` for usage.")
		return 2
	default:
		fmt.Fprintln(e.stderr, "mailcal:", err)
		return 1
	}
}

// commands are the commands that need the configuration.
var commands = map[string]func(context.Context, []string, env, *config) error{
	"serve": cmdServe, "tenant": cmdTenant, "tenants": cmdTenant, "accounts": cmdAccounts,
	"connect": cmdConnect, "disconnect": cmdDisconnect, "policy": cmdPolicy, "audit": cmdAudit,
	"migrate": cmdMigrate,
}

func dispatch(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage())
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "version", "--version", "-v":
		return cmdVersion(rest, e)
	case "help", "-h", "-help", "--help":
		// `mailcal help COMMAND` is `mailcal COMMAND --help`; help about
		// help (`help --help`, `-h -h`, ...) is the main usage.
		if len(rest) > 0 && !isHelp(rest[0]) {
			return dispatch(ctx, []string{rest[0], "--help"}, e)
		}
		fmt.Fprint(e.stdout, usage())
		return nil
	default:
		run := commands[cmd]
		if run == nil {
			return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
		}
		if wantsHelp(rest) {
			return run(ctx, rest, e, nil) // flags are parsed before the configuration is used
		}
		c, err := loadConfig(e)
		if err != nil {
			return err
		}
		// Commands other than serve log only warnings unless asked: their
		// output is for a person.
		if logger, err := newLogger(e, c, "", "", slog.LevelWarn); err == nil {
			slog.SetDefault(logger)
		}
		return run(ctx, rest, e, c)
	}
}

// wantsHelp reports whether the arguments ask for a command's help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

const versionHelp = `
Usage: mailcal version

Print mailcal's version (also: mailcal --version, mailcal -v).
`

func cmdVersion(args []string, e env) error {
	fs := newFlags("version", versionHelp, e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("version", pos); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "mailcal", buildVersion())
	return nil
}
