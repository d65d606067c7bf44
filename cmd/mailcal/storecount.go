//go:build storecount && unix

// The storecount build counts store reads for the load benchmark
// (cmd/mailcal/e2e/load): `go build -tags storecount ./cmd/mailcal`. On
// SIGUSR1 it logs one "store reads" record with the counts so far, reads a
// request waited for apart from background refreshes (store.Background).
// SIGUSR2 starts a CPU profile into cpu.pprof in the working folder, and
// the next SIGUSR2 ends it; the allocation profile is written as each
// starts (allocs0.pprof) and ends (allocs.pprof), so that the difference is
// what the profiled time allocated. Release builds have none of this.

package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync/atomic"
	"syscall"

	"github.com/mailcal/mailcal/auth/store"
)

func init() { wrapStore = countReads }

// The counted operations.
const (
	opGetTenant = iota
	opListTenants
	opGetGrant
	opListGrants
	opListFlowStates
	opGetPolicy
	nOps
)

var opNames = [nOps]string{"get_tenant", "list_tenants", "get_grant", "list_grants", "list_flow_states", "get_policy"}

type readCounter struct {
	store.Store
	n [nOps][2]atomic.Int64 // [op][0: a request waited, 1: background]
}

// Unwrap returns the counted store (its data keys, if it keeps any).
func (c *readCounter) Unwrap() store.Store { return c.Store }

func countReads(s store.Store) store.Store {
	c := &readCounter{Store: s}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var prof *os.File
		for s := range sig {
			switch {
			case s == syscall.SIGUSR1:
				c.report()
			case prof == nil:
				writeAllocs("allocs0.pprof")
				f, err := os.Create("cpu.pprof")
				if err == nil && pprof.StartCPUProfile(f) == nil {
					prof = f
				}
			default:
				pprof.StopCPUProfile()
				prof.Close()
				prof = nil
				writeAllocs("allocs.pprof")
				slog.Info("cpu profile written", "file", "cpu.pprof")
			}
		}
	}()
	slog.Info("store read counting on: SIGUSR1 logs the counts")
	return c
}

// writeAllocs writes the allocation profile so far into file.
func writeAllocs(file string) {
	f, err := os.Create(file)
	if err != nil {
		slog.Warn("allocation profile", "err", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		slog.Warn("allocation profile", "err", err)
	}
}

func (c *readCounter) report() {
	attrs := make([]any, 0, 2*2*nOps)
	for op := range nOps {
		attrs = append(attrs, opNames[op], c.n[op][0].Load(), "bg_"+opNames[op], c.n[op][1].Load())
	}
	slog.Info("store reads", attrs...)
}

func (c *readCounter) count(ctx context.Context, op int) {
	bg := 0
	if store.IsBackground(ctx) {
		bg = 1
	}
	c.n[op][bg].Add(1)
}

func (c *readCounter) GetTenant(ctx context.Context, name string) (store.Tenant, error) {
	c.count(ctx, opGetTenant)
	return c.Store.GetTenant(ctx, name)
}

func (c *readCounter) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	c.count(ctx, opListTenants)
	return c.Store.ListTenants(ctx)
}

func (c *readCounter) GetGrant(ctx context.Context, k store.GrantKey) (store.Grant, error) {
	c.count(ctx, opGetGrant)
	return c.Store.GetGrant(ctx, k)
}

func (c *readCounter) ListGrants(ctx context.Context, tenant string) ([]store.Grant, error) {
	c.count(ctx, opListGrants)
	return c.Store.ListGrants(ctx, tenant)
}

func (c *readCounter) ListFlowStates(ctx context.Context, tenant string) ([]store.FlowState, error) {
	c.count(ctx, opListFlowStates)
	return c.Store.ListFlowStates(ctx, tenant)
}

func (c *readCounter) GetPolicy(ctx context.Context, tenant string) (store.Policy, error) {
	c.count(ctx, opGetPolicy)
	return c.Store.GetPolicy(ctx, tenant)
}
