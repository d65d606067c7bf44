package oauthtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Approve simulates the person's browser: it GETs authURL without following
// redirects and returns where the browser would be sent (the redirect_uri
// with code and state, or with an error). An error page (no redirect) is
// returned as an error carrying the page's text.
func (s *Server) Approve(ctx context.Context, authURL string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusFound {
		text := strings.Join(strings.Fields(tagRE.ReplaceAllString(string(body), " ")), " ")
		return nil, fmt.Errorf("%s: authorization page answered %d: %s", s.cfg.Name, resp.StatusCode, text)
	}
	return url.Parse(resp.Header.Get("Location"))
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// ApproveAndFollow is Approve followed by the browser's GET of the redirect
// (to the client's callback). The caller closes the response body.
func (s *Server) ApproveAndFollow(ctx context.Context, authURL string) (*http.Response, error) {
	loc, err := s.Approve(ctx, authURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}
