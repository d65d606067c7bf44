//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// protocolVersion is the MCP revision the sessions speak: the last one
// with sessions (initialize, Mcp-Session-Id), as most clients do today.
const protocolVersion = "2025-11-25"

// session is one MCP session over streamable HTTP, kept to what the
// benchmark needs: initialize, then tools/call, one at a time.
type session struct {
	hc      *http.Client
	url     string
	acct    account
	id      string // Mcp-Session-Id
	nextID  int
	timeout time.Duration
}

// newClient returns the HTTP client every session shares: enough idle
// connections to keep one per session.
func newClient(sessions int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = sessions + 16
	t.DisableCompression = true
	return &http.Client{Transport: t}
}

func (s *session) initialize(ctx context.Context) error {
	_, hdr, err := s.rpc(ctx, "initialize", map[string]any{
		"protocolVersion": protocolVersion, "capabilities": map[string]any{},
		"clientInfo": map[string]string{"name": "mailcal-load", "version": "1"},
	})
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if s.id = hdr.Get("Mcp-Session-Id"); s.id == "" {
		return errors.New("initialize: no Mcp-Session-Id in the answer")
	}
	if err := s.notify(ctx, "notifications/initialized"); err != nil {
		return fmt.Errorf("notifications/initialized: %w", err)
	}
	return nil
}

// call runs the i-th call of the mix: list_messages, list_events,
// get_message.
func (s *session) call(ctx context.Context, i int) (string, error) {
	var name string
	var args map[string]any
	switch i % 3 {
	case 0:
		name, args = "list_messages", map[string]any{"max_results": 10}
	case 1:
		name, args = "list_events", map[string]any{}
	default:
		name, args = "get_message", map[string]any{"id": s.acct.messageID}
	}
	res, _, err := s.rpc(ctx, "tools/call", map[string]any{"name": name, "arguments": args})
	if err != nil {
		return name, err
	}
	var r struct {
		IsError bool `json:"isError"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return name, fmt.Errorf("tool result: %v", err)
	}
	if r.IsError {
		text := ""
		if len(r.Content) > 0 {
			text = r.Content[0].Text
		}
		return name, fmt.Errorf("tool error: %s", clip(text, 160))
	}
	return name, nil
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, clip(e.Message, 160))
}

// statusError is an HTTP answer other than 200/202.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, clip(strings.TrimSpace(e.body), 160))
}

func (s *session) post(ctx context.Context, body any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+s.acct.key)
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
		req.Header.Set("MCP-Protocol-Version", protocolVersion)
	}
	return s.hc.Do(req)
}

func (s *session) notify(ctx context.Context, method string) error {
	resp, err := s.post(ctx, map[string]any{"jsonrpc": "2.0", "method": method})
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return &statusError{resp.StatusCode, string(b)}
	}
	return nil
}

// rpc sends a request and returns its result, from a JSON answer or from
// an SSE stream that carries it.
func (s *session) rpc(ctx context.Context, method string, params any) (json.RawMessage, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.nextID++
	id := s.nextID
	resp, err := s.post(ctx, map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return nil, nil, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			b = append(b, " (Retry-After: "+ra+")"...)
		}
		return nil, nil, &statusError{resp.StatusCode, string(b)}
	}
	var msg struct {
		ID     any             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		err = readSSE(resp.Body, func(data []byte) bool {
			return json.Unmarshal(data, &msg) == nil && msg.ID != nil && (msg.Result != nil || msg.Error != nil)
		})
	} else {
		err = json.NewDecoder(resp.Body).Decode(&msg)
	}
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	case msg.Error != nil:
		return nil, nil, msg.Error
	}
	return msg.Result, resp.Header, nil
}

// readSSE calls done with each event's data until it returns true.
func readSSE(r io.Reader, done func([]byte) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) > 0 && done(data) {
				return nil
			}
			data = data[:0]
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// kind names an error's failure mode, for counting: the HTTP status and
// its JSON error code, the JSON-RPC code, the tool error's first words, or
// the network condition.
func kind(err error) string {
	var se *statusError
	var re *rpcError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		code := ""
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(se.body), &body) == nil {
			code = " " + body.Error.Code
		}
		return fmt.Sprintf("HTTP %d%s", se.status, code)
	case errors.As(err, &re):
		return fmt.Sprintf("JSON-RPC %d", re.Code)
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "client out of descriptors (EMFILE)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port (EADDRNOTAVAIL)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "client timeout"
	case strings.HasPrefix(err.Error(), "tool error: "):
		w := strings.Fields(strings.TrimPrefix(err.Error(), "tool error: "))
		return "tool error: " + strings.Join(w[:min(len(w), 6)], " ")
	}
	return clip(err.Error(), 80)
}
