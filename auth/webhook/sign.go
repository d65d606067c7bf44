// Package webhook delivers a tenant's account events to the URL it
// registered: what an event is, how a delivery is signed and verified,
// which URLs may receive one (checked when registered and again on every
// connection, against DNS rebinding), and how one attempt is made and the
// next one scheduled.
//
// It holds no state: the registration and the outbox of deliveries are the
// store's, and the delivery loop that claims them is the caller's.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>", the
	// HMAC keyed with the secret (the string exactly as answered) over
	// "<unix seconds>.<body>". While a secret is being replaced, more than
	// one v1 may be present; one matching is enough.
	SignatureHeader = "Mailcal-Signature"
	// IDHeader carries the event's id: the same on every retry of it, for
	// the receiver to drop a duplicate.
	IDHeader = "Mailcal-Webhook-Id"
)

// SecretBytes is how many random bytes a signing secret holds.
const SecretBytes = 32

// DefaultTolerance is how far from the receiver's clock a signature's
// timestamp may be before Verify refuses it as a replay.
const DefaultTolerance = 5 * time.Minute

// NewSecret returns a new signing secret: SecretBytes random bytes in
// standard base64, with a "whsec_" prefix that says what it is.
func NewSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

// ValidSecret checks that s is a secret NewSecret could have made, without
// saying anything about its value.
func ValidSecret(s string) error {
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return errors.New("webhook secret: not a mailcal signing secret (whsec_…)")
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != SecretBytes {
		return fmt.Errorf("webhook secret: not %d bytes of standard base64", SecretBytes)
	}
	return nil
}

func mac(secret string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the SignatureHeader value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	return SignAll([]string{secret}, t, body)
}

// SignAll returns the SignatureHeader value of body sent at t with one v1
// per secret, in order: the current secret first, then the one it is
// replacing, so that a receiver holding either verifies the delivery.
func SignAll(secrets []string, t time.Time, body []byte) string {
	ts := t.Unix()
	b := strings.Builder{}
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(ts, 10))
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook signature: missing or malformed")
	ErrBadSignature = errors.New("webhook signature: does not match the body")
	ErrStale        = errors.New("webhook signature: timestamp outside the tolerance")
)

// Verify checks a SignatureHeader value against body, as a receiver does:
// the timestamp within tolerance of now (either way), and one v1 signature
// equal, in constant time, to the HMAC of "timestamp.body".
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(header) > 1024 {
		return ErrNoSignature
	}
	var ts int64
	haveTS := false
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrNoSignature
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || haveTS {
				return ErrNoSignature
			}
			ts, haveTS = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return ErrNoSignature
			}
			sigs = append(sigs, b)
		}
	}
	if !haveTS || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
