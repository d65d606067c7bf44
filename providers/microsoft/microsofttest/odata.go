package microsofttest

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The OData system query options of Outlook's collections ("Use query
// parameters to customize responses", "Paging Microsoft Graph data"):
// $select, $top (1 to 1000, default 10), $skip, $count, $orderby, $filter,
// $search and $expand, and @odata.nextLink paging, which for Outlook's mail
// and calendars carries $skip (or, for a search, an opaque $skiptoken).

type orderKey struct {
	path string
	desc bool
}

type listQuery struct {
	selected []string // nil: the default properties
	top      int
	skip     int
	count    bool
	orderby  []orderKey
	filter   *filterExpr
	search   *kqlQuery
	expand   []string // $expand=attachments
}

// knownOptions are the system query options Graph takes; others starting
// with $ are refused.
var knownOptions = []string{"$select", "$top", "$skip", "$skiptoken", "$count", "$orderby", "$filter", "$search", "$expand", "$format"}

// parseListQuery reads the query options of a collection of sc; it answers
// the errors itself.
func (c *call) parseListQuery(sc *schema, maxTop int, expandable []string) (*listQuery, bool) {
	q := c.r.URL.Query()
	for k := range q {
		if strings.HasPrefix(k, "$") && !slices.Contains(knownOptions, strings.ToLower(k)) {
			c.fail(http.StatusBadRequest, "BadRequest", "The query parameter '"+k+"' is not supported.")
			return nil, false
		}
	}
	lq := &listQuery{top: 10}
	var err *queryError
	if lq.selected, err = parseSelect(get(q, "$select"), sc); err != nil {
		return nil, c.queryFail(err)
	}
	if lq.expand, err = parseExpand(get(q, "$expand"), sc, expandable); err != nil {
		return nil, c.queryFail(err)
	}
	if v := get(q, "$top"); v != "" {
		n, convErr := strconv.Atoi(v)
		switch {
		case convErr != nil || n < 0:
			return nil, c.queryFail(badQuery("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v))
		case n < 1 || n > maxTop:
			return nil, c.queryFail(&queryError{"ErrorInvalidUrlQuery", "The value of the '$top' query parameter must be between 1 and " + strconv.Itoa(maxTop) + "."})
		}
		lq.top = n
	}
	if v := get(q, "$skip"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 0 {
			return nil, c.queryFail(badQuery("Invalid value '%s' for $skip query option found. The $skip query option requires a non-negative integer value.", v))
		}
		lq.skip = n
	}
	switch v := strings.ToLower(get(q, "$count")); v {
	case "", "false":
	case "true":
		lq.count = true
	default:
		return nil, c.queryFail(badQuery("'%s' is not a valid count option.", get(q, "$count")))
	}
	if v := get(q, "$filter"); v != "" {
		if lq.filter, err = parseFilter(v, sc); err != nil {
			return nil, c.queryFail(err)
		}
	}
	if v := get(q, "$orderby"); v != "" {
		if lq.orderby, err = parseOrderBy(v, sc); err != nil {
			return nil, c.queryFail(err)
		}
	}
	if v, has := lookup(q, "$search"); has {
		if sc != messageSchema {
			return nil, c.queryFail(badQuery("Search is not supported on this collection."))
		}
		switch {
		case lq.orderby != nil:
			// $search results are sorted by date and cannot be sorted
			// otherwise.
			return nil, c.queryFail(&queryError{"SearchWithOrderBy", "The query parameter '$orderBy' is not supported with '$search'."})
		case lq.filter != nil:
			return nil, c.queryFail(&queryError{"SearchWithFilter", "The query parameter '$filter' is not supported with '$search'."})
		}
		if lq.search, err = parseKQL(v); err != nil {
			return nil, c.queryFail(err)
		}
		if tok := get(q, "$skiptoken"); tok != "" {
			if lq.skip, err = readSkipToken(tok, c.r.URL.Query()); err != nil {
				return nil, c.queryFail(err)
			}
		}
	}
	// With both, the properties sorted on must be filtered on first, in
	// the same order (user-list-messages, "Using filter and orderby in the
	// same query").
	if lq.filter != nil && lq.orderby != nil {
		f := lq.filter.props
		for i, o := range lq.orderby {
			if i >= len(f) || !strings.EqualFold(f[i], o.path) {
				return nil, c.queryFail(&queryError{"InefficientFilter", "The restriction or sort order is too complex for this operation."})
			}
		}
	}
	return lq, true
}

func (c *call) queryFail(e *queryError) bool {
	c.fail(http.StatusBadRequest, e.code, e.message)
	return false
}

// get reads a query option by name, case-insensitively.
func get(q url.Values, name string) string {
	v, _ := lookup(q, name)
	return v
}

func lookup(q url.Values, name string) (string, bool) {
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

func parseSelect(v string, sc *schema) ([]string, *queryError) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(sc.selectable, func(p string) bool { return strings.EqualFold(p, name) })
		if i < 0 {
			return nil, sc.unknownProperty(name)
		}
		out = append(out, sc.selectable[i])
	}
	return out, nil
}

// parseExpand takes the navigation properties of the entity, with a nested
// $select ("attachments($select=name,size)") passed over.
func parseExpand(v string, sc *schema, expandable []string) ([]string, *queryError) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for _, item := range splitOutsideParens(v) {
		name, _, _ := strings.Cut(strings.TrimSpace(item), "(")
		i := slices.IndexFunc(expandable, func(p string) bool { return strings.EqualFold(p, name) })
		if i < 0 {
			return nil, &queryError{"RequestBroker--ParseUri", "Parsing OData Select and Expand failed: Could not find a property named '" + name +
				"' on type '" + sc.typeName + "'."}
		}
		out = append(out, expandable[i])
	}
	return out, nil
}

// nestedSelect returns the $select inside an $expand item, "a,b" of
// "name($select=a,b)", or "".
func nestedSelect(expand, name string) string {
	for _, item := range splitOutsideParens(expand) {
		n, rest, ok := strings.Cut(strings.TrimSpace(item), "(")
		if !ok || !strings.EqualFold(n, name) {
			continue
		}
		for _, opt := range strings.Split(strings.TrimSuffix(rest, ")"), ";") {
			if k, v, ok := strings.Cut(opt, "="); ok && strings.EqualFold(strings.TrimSpace(k), "$select") {
				return v
			}
		}
	}
	return ""
}

func splitOutsideParens(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseOrderBy(v string, sc *schema) ([]orderKey, *queryError) {
	var keys []orderKey
	for _, item := range strings.Split(v, ",") {
		f := strings.Fields(item)
		if len(f) == 0 || len(f) > 2 || len(f) == 2 && !strings.EqualFold(f[1], "asc") && !strings.EqualFold(f[1], "desc") {
			return nil, badQuery("Syntax error at position %d in '%s'.", len(v), v)
		}
		canon, ok := sc.canonical(f[0])
		if !ok {
			return nil, sc.unknownProperty(f[0])
		}
		if !slices.Contains(sc.sortable, canon) {
			return nil, badQuery("The $orderby expression must evaluate to a single value of primitive type.")
		}
		keys = append(keys, orderKey{path: canon, desc: len(f) == 2 && strings.EqualFold(f[1], "desc")})
	}
	return keys, nil
}

// page cuts the results at the query's skip and top, and returns the
// collection's answer: value, @odata.context, @odata.count and
// @odata.nextLink.
func (c *call) page(lq *listQuery, context string, items []any) map[string]any {
	out := map[string]any{"@odata.context": context}
	if lq.count {
		out["@odata.count"] = len(items)
	}
	start := min(lq.skip, len(items))
	end := min(start+lq.top, len(items))
	out["value"] = items[start:end]
	if end < len(items) {
		out["@odata.nextLink"] = c.nextLink(lq, end)
	}
	return out
}

// nextLink is the request's URL with the query kept as the client wrote it,
// the offset of the next page in $skip, or in $skiptoken for a search.
func (c *call) nextLink(lq *listQuery, next int) string {
	name, value := "%24skip", strconv.Itoa(next)
	if lq.search != nil {
		name, value = "%24skiptoken", skipToken(next, c.r.URL.Query())
	}
	var parts []string
	for _, kv := range strings.Split(c.r.URL.RawQuery, "&") {
		k, _, _ := strings.Cut(kv, "=")
		dk, _ := url.QueryUnescape(k)
		if kv == "" || strings.EqualFold(dk, "$skip") || strings.EqualFold(dk, "$skiptoken") {
			continue
		}
		parts = append(parts, kv)
	}
	parts = append(parts, name+"="+value)
	return c.s.graphSrv.URL + c.r.URL.EscapedPath() + "?" + strings.Join(parts, "&")
}

// skipToken is an opaque token for the offset of a search's next page,
// bound to the query it pages (a token of another query, or a forged one,
// is refused).
func skipToken(offset int, q url.Values) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + queryDigest(q)))
}

func readSkipToken(tok string, q url.Values) (int, *queryError) {
	invalid := badQuery("The $skiptoken value is not valid.")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, invalid
	}
	off, digest, ok := strings.Cut(string(raw), ":")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || n < 0 || digest != queryDigest(q) {
		return 0, invalid
	}
	return n, nil
}

// queryDigest identifies a query's options but the paging ones.
func queryDigest(q url.Values) string {
	var keys []string
	for k, v := range q {
		if !strings.EqualFold(k, "$skiptoken") && !strings.EqualFold(k, "$skip") {
			keys = append(keys, strings.ToLower(k)+"="+strings.Join(v, ","))
		}
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "&")))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// project keeps the selected properties of an entity rendered as a map
// (id and @odata.etag are always kept), or drops those only $select brings.
func project(m map[string]any, selected []string, onlyOnSelect []string) map[string]any {
	if selected == nil {
		for _, p := range onlyOnSelect {
			delete(m, p)
		}
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		if k == "id" || strings.HasPrefix(k, "@odata.") || slices.Contains(selected, k) {
			out[k] = v
		}
	}
	return out
}

// selectSuffix is the "(a,b)" of @odata.context for a $select.
func selectSuffix(selected []string) string {
	if selected == nil {
		return ""
	}
	return "(" + strings.Join(selected, ",") + ")"
}
