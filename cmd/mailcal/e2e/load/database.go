//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcal/mailcal/auth/seal"
	"github.com/mailcal/mailcal/auth/store/postgres"
	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// database is the PostgreSQL server of a -database run, with the
// environment every replica shares.
type database struct {
	url  string
	env  []string // MAILCAL_DATABASE_URL, MAILCAL_ENCRYPTION_KEY
	stop func()
}

// startDatabase starts a throwaway PostgreSQL on loopback, creates the
// database "load" on it and migrates it with `bin migrate`.
func startDatabase(ctx context.Context, bin, dir string) (*database, error) {
	admin, stop, err := pgtest.Start()
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, admin)
	if err == nil {
		_, err = conn.Exec(cctx, "CREATE DATABASE load")
		conn.Close(cctx)
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("creating the database: %w", err)
	}
	u, _ := url.Parse(admin)
	u.Path = "/load"
	master := make([]byte, 32)
	rand.Read(master)
	db := &database{url: u.String(), stop: stop, env: []string{
		"MAILCAL_DATABASE_URL=" + u.String(), "MAILCAL_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(master),
	}}
	cmd := exec.CommandContext(cctx, bin, "migrate")
	cmd.Dir, cmd.Env = dir, append(baseEnv(dir), db.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		stop()
		return nil, fmt.Errorf("mailcal migrate: %v: %s", err, clip(postgres.RedactURL(out.String()), 2000))
	}
	return db, nil
}

// seed fills the database with n tenants as seed does the keyring, their
// refresh tokens sealed under the run's master key as the replicas expect.
func (db *database) seed(ctx context.Context, n int, latency time.Duration) (*googletest.Server, []string, []account, error) {
	st, _, err := postgres.Open(ctx, db.url, postgres.Options{NoMigrate: true})
	if err != nil {
		return nil, nil, nil, err
	}
	defer st.Close()
	keys, err := seal.MasterKeysFromEnv(func(k string) string {
		for _, kv := range db.env {
			if len(kv) > len(k) && kv[:len(k)] == k && kv[len(k)] == '=' {
				return kv[len(k)+1:]
			}
		}
		return ""
	})
	if err != nil {
		return nil, nil, nil, err
	}
	sealer, err := seal.New(st, keys, seal.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	fg, accts, err := seedStore(ctx, st, sealer, n, latency)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("seeding the database: %w", err)
	}
	return fg, append(append([]string{}, db.env...), fg.Env()...), accts, nil
}

// commits is the database's committed transactions so far (each statement
// the replicas send outside a transaction is one); -1 when unknown. The
// statistics lag by up to a second (PostgreSQL flushes them at most once a
// second per backend).
func (db *database) commits(ctx context.Context) int64 {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, db.url)
	if err != nil {
		return -1
	}
	defer conn.Close(cctx)
	var n int64
	if conn.QueryRow(cctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n) != nil {
		return -1
	}
	return n
}

// roundRobin is a reverse proxy on loopback that sends each request to
// the next replica, whatever it carries (no session affinity), streaming
// answers as they come.
type roundRobin struct {
	base string
	srv  *http.Server
}

type backendKey struct{}

func startRoundRobin(backends []*url.URL) (*roundRobin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(backendKey{}).(*url.URL))
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		Transport:     &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
		FlushInterval: -1,
		// A client that goes away is counted on its side; a failed
		// backend answers it 502.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := backends[(next.Add(1)-1)%uint64(len(backends))]
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
	})
	rr := &roundRobin{base: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go rr.srv.Serve(ln)
	return rr, nil
}

func (rr *roundRobin) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rr.srv.Shutdown(ctx) != nil {
		rr.srv.Close()
	}
}
