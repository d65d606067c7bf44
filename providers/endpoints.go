package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// RevokeRFC7009 revokes a token at an RFC 7009 revocation endpoint,
// authenticating the client with its id and secret in the form (as the
// token endpoint is), which the RFC asks of confidential clients. An
// "invalid_token" answer (already revoked or expired) counts as success:
// the goal is reached.
func RevokeRFC7009(ctx context.Context, hc *http.Client, cfg Config, token string) error {
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}, "client_id": {cfg.ClientID}}
	if cfg.ClientSecret != "" {
		form.Set("client_secret", cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("revoking: %w", ScrubURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if e.Error == "invalid_token" {
		return nil
	}
	return fmt.Errorf("revoking: HTTP %d %s", resp.StatusCode, SafeCode(e.Error))
}

// ScrubURLError drops the URL from a transport error: token and revocation
// URLs may carry a token in their query.
func ScrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		host := "the provider"
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("%s %s: %w", ue.Op, host, ue.Err)
	}
	return err
}

var errUserinfoUnauthorized = errors.New("the provider refused the access token")

// UserinfoEmail asks an OpenID Connect userinfo endpoint which account the
// client's token belongs to and returns its email address; a 401 is
// ErrUnauthorized (wrapped in *Error).
func UserinfoEmail(ctx context.Context, hc *http.Client, userinfoURL, title string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, userinfoURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return "", te
		}
		return "", &Error{Kind: ErrUnavailable, Message: fmt.Sprintf("asking %s who the account is: %s", title, Redact(ScrubURLError(err).Error()))}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", &Error{Kind: ErrUnauthorized, Status: resp.StatusCode, Message: "asking who the account is: " + errUserinfoUnauthorized.Error()}
	case resp.StatusCode >= 500:
		return "", &Error{Kind: ErrUnavailable, Status: resp.StatusCode, Message: fmt.Sprintf("asking %s who the account is: HTTP %d", title, resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return "", &Error{Kind: ErrForbidden, Status: resp.StatusCode, Message: fmt.Sprintf("asking %s who the account is: HTTP %d", title, resp.StatusCode)}
	}
	var info struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", &Error{Kind: ErrInvalidAnswer, Status: resp.StatusCode, Message: fmt.Sprintf("asking %s who the account is: the answer is not the JSON OpenID Connect describes", title)}
	}
	if !PlausibleEmail(info.Email) {
		return "", &Error{Kind: ErrForbidden, Message: fmt.Sprintf("%s did not say which email address the account has (was the email scope granted?)", title)}
	}
	if info.EmailVerified != nil && !*info.EmailVerified {
		return "", &Error{Kind: ErrForbidden, Message: fmt.Sprintf("%s says the account's email address %s is not verified", title, info.Email)}
	}
	return strings.ToLower(info.Email), nil
}

// PlausibleEmail is a cheap check that s looks like one email address.
func PlausibleEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && len(s) <= 254 && !strings.ContainsAny(s, " \t\r\n<>,;\"'/\\")
}

// CheckEndpoint accepts absolute https URLs, and http ones on a loopback
// host (fakes and local proxies).
func CheckEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && IsLoopbackHost(u.Host)) {
		return nil
	}
	return fmt.Errorf("%q: use https (http only on a loopback host)", s)
}

// IsLoopbackHost reports whether a host or host:port names this machine's
// loopback interface.
func IsLoopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
