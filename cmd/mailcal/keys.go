package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailcal/mailcal/auth/seal"
)

const keysHelp = `
Usage:
  mailcal keys rotate --new-key-file FILE

Re-wraps every tenant's data key under a new master key, for a store that
encrypts refresh tokens per tenant (a database). The refresh tokens
themselves are not touched: they stay sealed under their tenant's data key,
and only its wrapping changes.

The data keys are opened with MAILCAL_ENCRYPTION_KEY (or _FILE) and, if set,
MAILCAL_ENCRYPTION_KEY_OLD (or _OLD_FILE); FILE holds the new key, the base64
of 32 random bytes (openssl rand -base64 32 > FILE; chmod 600 FILE).

Servers keep serving throughout. Step by step:
  1. restart the servers one by one with MAILCAL_ENCRYPTION_KEY set to the new
     key and MAILCAL_ENCRYPTION_KEY_OLD to the old one;
  2. run mailcal keys rotate --new-key-file FILE (with the old key, or both,
     in its environment);
  3. unset MAILCAL_ENCRYPTION_KEY_OLD and restart the servers one by one; the
     old key can then be destroyed.
Each key is written with a compare-and-set, so a server changing one at the
same moment is not overwritten; keys already under the new master key are
skipped, so a rotation that stopped half way is finished by running it again.
`

func init() { commands["keys"] = cmdKeys }

func cmdKeys(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("keys", keysHelp, e)
	newKeyFile := fs.String("new-key-file", "", "file holding the new master key (base64 of 32 bytes)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || pos[0] != "rotate" {
		fs.Usage()
		if len(pos) == 0 {
			return fmt.Errorf("%w: keys needs a subcommand: rotate", errUsage)
		}
		return fmt.Errorf("%w: unknown keys subcommand %q: use rotate", errUsage, pos[0])
	}
	if err := wantArgs("keys rotate", pos[1:]); err != nil {
		return err
	}
	if *newKeyFile == "" {
		return fmt.Errorf("%w: keys rotate needs --new-key-file FILE, a file holding the new master key", errUsage)
	}
	next, err := seal.ReadMasterKeyFile(*newKeyFile, "--new-key-file")
	if err != nil {
		return err
	}
	if !c.masterKeys.Set() {
		return fmt.Errorf("keys rotate needs the current master key in %s or %s, to open the data keys", seal.EnvKey, seal.EnvKeyFile)
	}
	a, err := newApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.close()
	return rotateKeys(ctx, e, a, next)
}

// rotateKeys re-wraps the data keys of a's store under next and reports
// what it did.
func rotateKeys(ctx context.Context, e env, a *app, next *seal.MasterKey) error {
	keys, ok := dataKeys(a.store)
	if !ok {
		return errors.New("the keyring encrypts refresh tokens itself and keeps no data keys: keys rotate is for a database store (MAILCAL_DATABASE_URL)")
	}
	r, err := seal.Rotate(ctx, keys, a.cfg.masterKeys, next)
	fmt.Fprintf(e.stdout, "Re-wrapped %d data key(s) under %s; %d already under it; %d of tenants removed meanwhile.\n",
		r.Rewrapped, next.ID(), r.Skipped, r.Gone)
	for _, f := range r.Failed {
		fmt.Fprintf(e.stderr, "Not re-wrapped: tenant %s: %v\n", f.Tenant, f.Err)
	}
	if err != nil {
		return fmt.Errorf("the rotation stopped (run it again to finish: keys done are skipped): %w", err)
	}
	if len(r.Failed) > 0 {
		return fmt.Errorf("%d data key(s) could not be re-wrapped (listed above)", len(r.Failed))
	}
	return nil
}
