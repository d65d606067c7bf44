package oauth

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CallbackPath is where providers send the browser back.
const CallbackPath = "/oauth/callback"

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailcal: {{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.ok{color:#17692e}.err{color:#a4161a}</style></head>
<body><h1 class="{{.Class}}">{{.Title}}</h1><p>{{.Message}}</p>{{if .Hint}}<p>{{.Hint}}</p>{{end}}</body></html>
`))

type page struct {
	Title, Class, Message, Hint string
}

// writePage answers an HTML page that may be shown in a browser but not framed,
// scripted or leak the URL (with its code) through a Referer.
func writePage(w http.ResponseWriter, status int, p page) {
	PageHeaders(w.Header())
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, p)
}

// PageHeaders sets the headers of every HTML page of a sign-in or a
// connection (here and in auth/mcpauth): shown in a browser, never framed,
// scripted, cached, sniffed, or its URL (with a code) leaked through a
// Referer.
func PageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// CallbackHandler completes flows from the provider's redirect
// (GET ?state=..&code=.. or ?state=..&error=..) and answers a page naming the
// connected account or the error. An unknown, used, expired or foreign
// state changes nothing.
func CallbackHandler(f *Flows) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writePage(w, http.StatusMethodNotAllowed, page{Title: "Method not allowed", Class: "err", Message: "The callback takes a GET request."})
			return
		}
		q := r.URL.Query()
		state := q.Get("state")
		if e := q.Get("error"); e != "" {
			err := f.Deny(r.Context(), state, "", e)
			if errors.Is(err, ErrDenied) {
				writePage(w, http.StatusOK, page{Title: "Not connected", Class: "err", Message: "Access was not granted, so no account was connected.", Hint: "To try again, start the connection again."})
				return
			}
			writeFlowError(w, err)
			return
		}
		res := f.Complete(r.Context(), state, "", q.Get("code"))
		if res.Err != nil {
			writeFlowError(w, res.Err)
			return
		}
		msg := res.Grant.Account + " is connected to mailcal (" + res.Grant.Provider + ": " + strings.Join(res.Grant.Scopes, ", ") + ")."
		hint := "You can close this window and go back to your assistant."
		if len(res.Missing) > 0 {
			hint = "Not granted: " + strings.Join(res.Missing, ", ") + ". Connect again and tick those boxes if you need them. " + hint
		}
		writePage(w, http.StatusOK, page{Title: "Connected", Class: "ok", Message: msg, Hint: hint})
	})
}

func writeFlowError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	var oe *OAuthError
	badCode := errors.As(err, &oe) && oe.Code == "invalid_grant" // used, expired or forged code: as the connect API
	if !errors.Is(err, ErrUnknownState) && !errors.Is(err, ErrExpiredState) && !errors.Is(err, ErrBadCode) && !badCode {
		status = http.StatusBadGateway
	}
	writePage(w, status, page{Title: "Not connected", Class: "err", Message: err.Error()})
}

// Loopback serves the callback on 127.0.0.1 at a random port, for
// connections made from this machine (the CLI, and the stdio server's
// connect_account tool). It starts on first use and stops once no flow
// begun with its redirect URI can still come back (StateTTL after the last
// RedirectURI call).
type Loopback struct {
	Flows *Flows

	mu      sync.Mutex
	srv     *http.Server
	uri     string
	lastUse time.Time
}

// RedirectURI starts the listener if needed and returns its redirect URI.
func (l *Loopback) RedirectURI() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastUse = time.Now()
	if l.srv != nil {
		return l.uri, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.Handle(CallbackPath, CallbackHandler(l.Flows))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	l.srv, l.uri = srv, "http://"+ln.Addr().String()+CallbackPath
	lns := []net.Listener{ln}
	// A provider that needs http://localhost (Spec.LoopbackHost) sends the
	// browser to localhost, which may resolve to ::1 first: listen there
	// too, on the same port, where the machine has IPv6 loopback (else the
	// browser falls back to 127.0.0.1).
	if port := ln.Addr().(*net.TCPAddr).Port; port > 0 {
		if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
			lns = append(lns, ln6)
		}
	}
	for _, ln := range lns {
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				slog.Warn("loopback callback listener stopped", "err", err)
			}
		}()
	}
	go l.closeWhenIdle(srv)
	return l.uri, nil
}

// closeWhenIdle stops the listener once every flow that may use it expired.
func (l *Loopback) closeWhenIdle(srv *http.Server) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for range t.C {
		l.mu.Lock()
		if l.srv != srv {
			l.mu.Unlock()
			return
		}
		if time.Since(l.lastUse) < StateTTL+time.Minute {
			l.mu.Unlock()
			continue
		}
		l.srv, l.uri = nil, ""
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		return
	}
}

// Close stops the listener. A callback still being answered gets up to
// 5 s to finish: the flow completes before its page is written, and `mailcal
// connect` closes the listener as soon as it completes, so closing at once
// would leave the person's browser with a dropped connection instead of the
// page saying the account is connected.
func (l *Loopback) Close() {
	l.mu.Lock()
	srv := l.srv
	l.srv, l.uri = nil, ""
	l.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
}
