package microsoft

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// folderTTL is how long an account's folders are kept: folder ids do not
// change, names seldom do.
const folderTTL = 10 * time.Minute

// folderSet is what List needs of an account's mail folders: the display
// names of the top-level folders and their children (labels, and folder
// names a listing may be limited to), and the ids of Deleted Items and
// Junk Email (left out of the default listing).
type folderSet struct {
	labels        map[string]string // id → "Name" or "Parent/Child"
	deleted, junk string            // "" when the mailbox has none
}

// label is a folder's name for a message's labels; "" when unknown.
func (f *folderSet) label(id string) string {
	if f == nil || id == "" {
		return ""
	}
	return f.labels[id]
}

// excluded are the folders the default listing leaves out.
func (f *folderSet) excluded() []string {
	var out []string
	for _, id := range []string{f.deleted, f.junk} {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

type folder struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Children    []folder `json:"childFolders"`
}

// folders returns the account's folders, read (three requests, one after
// another) when not kept from a recent call.
func (mb *mailbox) folders(ctx context.Context) (*folderSet, error) {
	api := mb.g.api
	if f, ok := api.folders.get(mb.g.account, api.now()); ok {
		return f, nil
	}
	var list struct {
		Value []folder `json:"value"`
	}
	params := url.Values{
		"$top":    {"250"},
		"$select": {"id,displayName"},
		"$expand": {"childFolders($select=id,displayName)"},
	}
	if err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/mailFolders", query: params, need: scopeMailRead}, &list); err != nil {
		return nil, err
	}
	f := &folderSet{labels: map[string]string{}}
	for _, top := range list.Value {
		if top.ID == "" {
			continue
		}
		f.labels[top.ID] = top.DisplayName
		for _, c := range top.Children {
			if c.ID != "" {
				f.labels[c.ID] = top.DisplayName + "/" + c.DisplayName
			}
		}
	}
	for _, wk := range []struct {
		name string
		id   *string
	}{{"deleteditems", &f.deleted}, {"junkemail", &f.junk}} {
		var one folder
		err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/mailFolders/" + wk.name, query: url.Values{"$select": {"id"}}, need: scopeMailRead}, &one)
		switch {
		case errors.Is(err, providers.ErrNotFound):
			// The mailbox has no such folder: nothing to leave out.
		case err != nil:
			return nil, err
		default:
			*wk.id = one.ID
		}
	}
	api.folders.put(mb.g.account, f, api.now())
	return f, nil
}

// resolveFolder turns a label into a folder for a listing's path: a
// well-known name (any case) as it is, a display name (any case;
// "Parent/Child" for a subfolder) through the account's folders, or a
// folder id. It returns the path segment and the label rows get.
func (mb *mailbox) resolveFolder(ctx context.Context, label string) (id, name string, err error) {
	if w, ok := folderWords[strings.ToLower(label)]; ok {
		return w, w, nil
	}
	if i := slices.IndexFunc(wellKnownFolders, func(w string) bool { return strings.EqualFold(w, label) }); i >= 0 {
		return wellKnownFolders[i], wellKnownFolders[i], nil
	}
	f, err := mb.folders(ctx)
	if err != nil {
		return "", "", err
	}
	var names []string
	for fid, l := range f.labels {
		if strings.EqualFold(l, label) || fid == label {
			return fid, l, nil
		}
		names = append(names, l)
	}
	// A child's bare name, when only one folder has it.
	var match []string
	for fid, l := range f.labels {
		if _, child, ok := strings.Cut(l, "/"); ok && strings.EqualFold(child, label) {
			match = append(match, fid)
		}
	}
	if len(match) == 1 {
		return match[0], f.labels[match[0]], nil
	}
	if len(label) >= 40 && checkID("label", label) == nil {
		return label, "", nil // a folder id not among the top two levels
	}
	slices.Sort(names)
	if len(names) > 30 {
		names = append(names[:30], "…")
	}
	return "", "", &providers.Error{Kind: providers.ErrNotFound, Status: http.StatusNotFound, Message: fmt.Sprintf(
		"folder %q does not exist (well-known names: inbox, sentitems, drafts, archive, deleteditems, junkemail; the account's folders: %s)",
		clip(label), strings.Join(names, ", "))}
}

// notFoundFolder names the folder when Graph did not find a listing's
// folder.
func notFoundFolder(err error, label string) error {
	var pe *providers.Error
	if label != "" && errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
		return &providers.Error{Kind: providers.ErrNotFound, Status: pe.Status, Message: fmt.Sprintf("folder %q does not exist in this mailbox (%s)", clip(label), pe.Message)}
	}
	return err
}
