// Package grants keeps the OAuth grants of connected accounts, one store item
// per tenant, provider and account: the refresh token and what is known about
// the connection (scopes, status, when it was made).
package grants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store/keyring"
)

// Status of a connection.
const (
	StatusActive      = "active"       // the grant works
	StatusNeedsReauth = "needs_reauth" // the provider refused the refresh token: connect again
	StatusRevoked     = "revoked"      // revoked by the person or by us
)

// ErrNotFound is returned for an account that is not connected.
var ErrNotFound = errors.New("account not connected")

// Grant is one connected account. Items are kept small (well under the 2 KB a
// keyring item may hold on every backend): no raw provider responses.
type Grant struct {
	Tenant       string    `json:"tenant"`
	Provider     string    `json:"provider"`
	Account      string    `json:"account"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Scopes       []string  `json:"scopes"`
	ConnectedAt  time.Time `json:"connected_at"`
	Status       string    `json:"status"`
	StatusReason string    `json:"status_reason,omitempty"`
	StatusAt     time.Time `json:"status_at,omitzero"` // when Status last changed away from active
}

// Store keeps grants. Writes to one account are serialised within the
// process, so that Update is a compare-and-set against concurrent writers
// here (a token refresh and a reconnect, say).
//
// List answers from memory for listTTL after reading the store (every tool
// call lists its tenant's accounts, and a keyring read can cost
// milliseconds); this process's own writes clear it at once, another
// process's (`mailcal connect` while a server runs) are seen within listTTL.
type Store struct {
	s     keyring.KV
	locks [64]sync.Mutex

	cacheMu sync.Mutex
	lists   map[string]cachedList
	writes  uint64 // counts writes, so that a listing read during one is not cached
	now     func() time.Time
}

type cachedList struct {
	at     time.Time
	grants []Grant
}

const listTTL = 3 * time.Second

// New returns a grant store over s.
func New(s keyring.KV) *Store {
	return &Store{s: s, lists: map[string]cachedList{}, now: time.Now}
}

func (g *Store) forget(tenant string) {
	g.cacheMu.Lock()
	delete(g.lists, tenant)
	g.writes++
	g.cacheMu.Unlock()
}

func (g *Store) lock(k string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(k))
	return &g.locks[h.Sum32()%uint32(len(g.locks))]
}

func key(tenant, provider, account string) string {
	return "grant/" + tenant + "/" + provider + "/" + strings.ToLower(account)
}

// Put saves a grant, replacing any earlier one for the same account.
func (g *Store) Put(ctx context.Context, gr Grant) error {
	if gr.Tenant == "" || gr.Provider == "" || gr.Account == "" {
		return errors.New("grant needs tenant, provider and account")
	}
	k := key(gr.Tenant, gr.Provider, gr.Account)
	mu := g.lock(k)
	mu.Lock()
	defer mu.Unlock()
	return g.put(ctx, k, gr)
}

func (g *Store) put(ctx context.Context, k string, gr Grant) error {
	defer g.forget(gr.Tenant)
	gr.Account = strings.ToLower(gr.Account)
	data, err := json.Marshal(gr)
	if err != nil {
		return err
	}
	return g.s.Set(ctx, k, data)
}

// Update reads an account's grant, lets fn change it and writes it back,
// with no other write to that account in between (within this process). If
// fn returns an error, nothing is written and Update returns that error.
func (g *Store) Update(ctx context.Context, tenant, provider, account string, fn func(*Grant) error) error {
	k := key(tenant, provider, account)
	mu := g.lock(k)
	mu.Lock()
	defer mu.Unlock()
	gr, err := g.Get(ctx, tenant, provider, account)
	if err != nil {
		return err
	}
	if err := fn(&gr); err != nil {
		return err
	}
	if key(gr.Tenant, gr.Provider, gr.Account) != k {
		return errors.New("grant update may not change tenant, provider or account")
	}
	return g.put(ctx, k, gr)
}

// Get returns the grant of one account.
func (g *Store) Get(ctx context.Context, tenant, provider, account string) (Grant, error) {
	data, err := g.s.Get(ctx, key(tenant, provider, account))
	if errors.Is(err, keyring.ErrNotFound) {
		return Grant{}, fmt.Errorf("%w: %s (%s)", ErrNotFound, account, provider)
	}
	if err != nil {
		return Grant{}, err
	}
	var gr Grant
	if err := json.Unmarshal(data, &gr); err != nil {
		return Grant{}, fmt.Errorf("the stored grant of %s (%s) is damaged; disconnect and connect it again", account, provider)
	}
	return gr, nil
}

// List returns a tenant's grants, sorted by provider and account.
func (g *Store) List(ctx context.Context, tenant string) ([]Grant, error) {
	g.cacheMu.Lock()
	c, ok := g.lists[tenant]
	writes := g.writes
	g.cacheMu.Unlock()
	if ok && g.now().Sub(c.at) < listTTL {
		return slices.Clone(c.grants), nil
	}
	start := g.now()
	out, err := g.list(ctx, tenant)
	if err != nil {
		return nil, err
	}
	g.cacheMu.Lock()
	if g.writes == writes {
		if len(g.lists) > 10000 {
			clear(g.lists)
		}
		g.lists[tenant] = cachedList{at: start, grants: out}
	}
	g.cacheMu.Unlock()
	return slices.Clone(out), nil
}

func (g *Store) list(ctx context.Context, tenant string) ([]Grant, error) {
	keys, err := g.s.List(ctx, "grant/"+tenant+"/")
	if err != nil {
		return nil, err
	}
	out := make([]Grant, 0, len(keys))
	for _, k := range keys {
		parts := strings.SplitN(strings.TrimPrefix(k, "grant/"+tenant+"/"), "/", 2)
		if len(parts) != 2 {
			continue
		}
		gr, err := g.Get(ctx, tenant, parts[0], parts[1])
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, gr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Account < out[j].Account
	})
	return out, nil
}

// Delete removes the grant of one account.
func (g *Store) Delete(ctx context.Context, tenant, provider, account string) error {
	k := key(tenant, provider, account)
	mu := g.lock(k)
	mu.Lock()
	defer mu.Unlock()
	defer g.forget(tenant)
	err := g.s.Delete(ctx, k)
	if errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("%w: %s (%s)", ErrNotFound, account, provider)
	}
	return err
}
