package google

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mailcal/mailcal/providers"
)

// Labels by name: Gmail names a message's labels by id (INBOX, Label_12);
// mailcal shows and takes user labels by name. Each mailbox's labels
// (labels.list, one request) are kept for labelTTL, shared by every call
// for the account, and read once however many calls need them at once; a
// label id or name the kept list does not know makes one more read when the
// list is older than labelRecheck (a label made since), never more.

const (
	// labelTTL is how long a mailbox's labels are kept.
	labelTTL = 5 * time.Minute
	// labelRecheck: a kept list at least this old is read again when it
	// lacks a label asked for.
	labelRecheck = 10 * time.Second
	// maxLabelCaches bounds the mailboxes kept; past it the cache starts
	// over (cheap to learn again).
	maxLabelCaches = 4096
)

// labelSet is a mailbox's labels.
type labelSet struct {
	list []gmailLabel
	name map[string]string // id → name
	at   time.Time
}

type gmailLabel struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// labelCache keeps mailboxes' labels by account.
type labelCache struct {
	now    func() time.Time
	flight singleflight.Group
	mu     sync.Mutex
	m      map[string]*labelSet
}

func (c *labelCache) get(account string) *labelSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.m[account]
	if s == nil || c.now().Sub(s.at) > labelTTL || c.now().Before(s.at) {
		return nil
	}
	return s
}

func (c *labelCache) put(account string, s *labelSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxLabelCaches {
		c.m = map[string]*labelSet{}
	}
	c.m[account] = s
}

// labels returns the mailbox's labels, kept or read (fresh: read unless
// the kept list is younger than labelRecheck).
func (mb *mailbox) labels(ctx context.Context, fresh bool) (*labelSet, error) {
	c := mb.labelCache
	key := strings.ToLower(mb.account)
	if s := c.get(key); s != nil && (!fresh || c.now().Sub(s.at) < labelRecheck) {
		return s, nil
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		// The read runs on its own deadline-free context bounded by the
		// retry budget: a caller that gives up does not fail the others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mb.batch.maxWait+time.Second)
		defer cancel()
		var res struct {
			Labels []gmailLabel `json:"labels"`
		}
		if err := getJSON(rctx, mb.hc, mb.api+"users/me/labels?fields=labels(id,name,type)&alt=json&prettyPrint=false", &res); err != nil {
			return nil, mapError(err)
		}
		s := &labelSet{name: make(map[string]string, len(res.Labels)), at: c.now()}
		for _, l := range res.Labels {
			if l.ID == "" {
				continue
			}
			if l.Name == "" {
				l.Name = l.ID
			}
			s.list = append(s.list, l)
			s.name[l.ID] = l.Name
		}
		c.put(key, s)
		return s, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*labelSet), nil
	}
}

// isSystemLabel reports whether id is one of Gmail's system label ids.
func isSystemLabel(id string) bool {
	return slices.Contains(systemLabels, id)
}

// nameLabels replaces the user label ids of each list with their names (in
// place), from the kept labels; an id they lack makes one more read when
// they are older than labelRecheck (a label made since), at most once a
// call. A label Gmail no longer lists becomes "" (dropEmpty).
func (mb *mailbox) nameLabels(ctx context.Context, lists ...[]string) error {
	var s *labelSet
	refreshed := false
	for _, l := range lists {
		for i, id := range l {
			if isSystemLabel(id) {
				continue
			}
			var err error
			if s == nil {
				if s, err = mb.labels(ctx, false); err != nil {
					return err
				}
			}
			if s.name[id] == "" && !refreshed {
				refreshed = true
				if s, err = mb.labels(ctx, true); err != nil {
					return err
				}
			}
			l[i] = s.name[id]
		}
	}
	return nil
}

// dropEmpty removes the labels nameLabels could not name.
func dropEmpty(l []string) []string {
	return slices.DeleteFunc(l, func(s string) bool { return s == "" })
}

// labelID resolves a label argument: a system label (any case), else a user
// label's id or name (names compared without regard to case).
func (mb *mailbox) labelID(ctx context.Context, label string) (string, error) {
	label = strings.TrimSpace(label)
	if i := slices.IndexFunc(systemLabels, func(s string) bool { return strings.EqualFold(s, label) }); i >= 0 {
		return systemLabels[i], nil
	}
	var s *labelSet
	for _, fresh := range []bool{false, true} {
		var err error
		if s, err = mb.labels(ctx, fresh); err != nil {
			return "", err
		}
		if id := s.find(label); id != "" {
			return id, nil
		}
	}
	var names []string
	for _, l := range s.list {
		if l.Type == "user" {
			names = append(names, l.Name)
		}
	}
	slices.Sort(names)
	if len(names) > 30 {
		names = append(names[:30], "...")
	}
	known := "system labels: " + strings.Join(systemLabels[:9], ", ")
	if len(names) > 0 {
		known += "; the account's labels: " + strings.Join(names, ", ")
	}
	return "", &providers.Error{Kind: providers.ErrNotFound, Status: http.StatusNotFound,
		Message: fmt.Sprintf("label %q does not exist (%s; list_labels lists them)", label, known)}
}

// find returns the id of the label with this id or name ("" if none).
func (s *labelSet) find(label string) string {
	for _, l := range s.list {
		if l.ID == label {
			return l.ID
		}
	}
	for _, l := range s.list {
		if strings.EqualFold(l.Name, label) {
			return l.ID
		}
	}
	return ""
}
