package grants

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// What a grant seals: its refresh token alone (every grant written without
// a shared access token, and every grant written before access tokens were
// shared), or, with an access token, secretPrefix and the JSON of
// sharedSecret. A refresh token never starts with a NUL byte, so the two
// cannot be confused, and grants written either way open with this code.
var secretPrefix = []byte("\x00mailcal-grant-1\x00")

type sharedSecret struct {
	RefreshToken string    `json:"rt"`
	AccessToken  string    `json:"at"`
	AccessExpiry time.Time `json:"exp"`
}

func encodeSecret(gr Grant) []byte {
	if gr.AccessToken == "" {
		return []byte(gr.RefreshToken)
	}
	b, _ := json.Marshal(sharedSecret{RefreshToken: gr.RefreshToken, AccessToken: gr.AccessToken, AccessExpiry: gr.AccessExpiry.UTC()})
	return append(bytes.Clone(secretPrefix), b...)
}

// decodeSecret fills gr's tokens from what was sealed. Its error names no
// part of the secret.
func decodeSecret(b []byte, gr *Grant) error {
	rest, ok := bytes.CutPrefix(b, secretPrefix)
	if !ok {
		gr.RefreshToken = string(b)
		return nil
	}
	var s sharedSecret
	if err := json.Unmarshal(rest, &s); err != nil {
		return errors.New("its sealed tokens do not parse")
	}
	if s.AccessToken == "" || s.AccessExpiry.IsZero() {
		return errors.New("its shared access token has no value or no expiry")
	}
	gr.RefreshToken, gr.AccessToken, gr.AccessExpiry = s.RefreshToken, s.AccessToken, s.AccessExpiry
	return nil
}
