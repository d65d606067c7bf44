package keyring

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"golang.org/x/term"
)

// The terminal device the file backend prompts on. Never stdin/stdout: on
// stdio those carry the MCP protocol. Tests point these elsewhere.
var ttyIn, ttyOut = func() (string, string) {
	if runtime.GOOS == "windows" {
		return "CONIN$", "CONOUT$"
	}
	return "/dev/tty", "/dev/tty"
}()

// filePassphrase returns the file backend's passphrase: cfg.Password, else
// the first line of cfg.PasswordFile, else asked on the terminal device.
func filePassphrase(cfg Config, dir string) (string, error) {
	if cfg.Password != "" {
		return cfg.Password, nil
	}
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("reading the file keyring passphrase file (%s): %w", EnvPasswordFile, err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", fmt.Errorf("the file keyring passphrase file %s (%s) is empty", cfg.PasswordFile, EnvPasswordFile)
		}
		return line, nil
	}
	pw, err := promptPassphrase(fmt.Sprintf("mailcal: passphrase for the file keyring at %s: ", dir), newFileKeyring(dir))
	if err != nil {
		return "", fmt.Errorf("the file keyring at %s needs a passphrase: set %s or %s, or start mailcal from a terminal to be asked (%v)",
			dir, EnvPassword, EnvPasswordFile, err)
	}
	return pw, nil
}

// newFileKeyring tells whether the folder holds no keyring yet: no header,
// no item.
func newFileKeyring(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() == headerName || itemName(e.Name()) {
			return false
		}
	}
	return true
}

// promptPassphrase asks on the terminal device; confirm asks twice (a new keyring).
func promptPassphrase(prompt string, confirm bool) (string, error) {
	in, err := os.OpenFile(ttyIn, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no terminal: %w", err)
	}
	defer in.Close()
	out := io.Writer(in)
	if ttyOut != ttyIn {
		o, err := os.OpenFile(ttyOut, os.O_WRONLY, 0)
		if err != nil {
			return "", fmt.Errorf("no terminal: %w", err)
		}
		defer o.Close()
		out = o
	}
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		return "", fmt.Errorf("no terminal: %s is not a terminal", ttyIn)
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(out, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(out)
		if err != nil {
			return "", fmt.Errorf("reading the passphrase from %s: %w", ttyIn, err)
		}
		return string(b), nil
	}
	pw, err := read(prompt)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("an empty passphrase was entered")
	}
	if confirm {
		again, err := read("mailcal: this creates a new file keyring; repeat the passphrase: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the two passphrases differ")
		}
	}
	return pw, nil
}
