//go:build unix

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// --- What every client must see, checked on the wire format (JSON) so that
// the same checks apply to every client's result types.

// wireTools is tools/list with every annotation.
type wireTools struct {
	Tools []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Annotations *struct {
			ReadOnlyHint    *bool `json:"readOnlyHint"`
			DestructiveHint *bool `json:"destructiveHint"`
			IdempotentHint  *bool `json:"idempotentHint"`
			OpenWorldHint   *bool `json:"openWorldHint"`
		} `json:"annotations"`
		InputSchema  map[string]any `json:"inputSchema"`
		OutputSchema map[string]any `json:"outputSchema"`
	} `json:"tools"`
}

type wireAccount struct {
	Account     string   `json:"account"`
	Provider    string   `json:"provider"`
	Status      string   `json:"status"`
	Scopes      []string `json:"scopes"`
	ConnectedAt string   `json:"connected_at"`
}

type wireResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

func (r wireResult) text() string {
	var b strings.Builder
	for _, c := range r.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// asWire converts a client's result (or raw JSON) to the wire type.
func asWire[T any](t *testing.T, who string, v any) T {
	t.Helper()
	var data []byte
	switch v := v.(type) {
	case []byte:
		data = v
	case json.RawMessage:
		data = v
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatalf("%s: %v", who, err)
		}
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: result does not parse: %v\n%s", who, err, data)
	}
	return out
}

// checkToolsList checks a tools/list result: list_accounts is there, marked
// read-only and not destructive, with an output schema that has accounts.
func checkToolsList(t *testing.T, who string, result any) {
	t.Helper()
	tl := asWire[wireTools](t, who, result)
	var names []string
	for _, tool := range tl.Tools {
		names = append(names, tool.Name)
		if tool.Name != "list_accounts" {
			continue
		}
		a := tool.Annotations
		switch {
		case a == nil:
			t.Errorf("%s: list_accounts has no annotations", who)
		case a.ReadOnlyHint == nil || !*a.ReadOnlyHint:
			t.Errorf("%s: list_accounts readOnlyHint = %v, want true", who, a.ReadOnlyHint)
		case a.DestructiveHint == nil || *a.DestructiveHint:
			t.Errorf("%s: list_accounts destructiveHint = %v, want present and false", who, a.DestructiveHint)
		}
		if tool.Description == "" {
			t.Errorf("%s: list_accounts has no description", who)
		}
		if tool.InputSchema["type"] != "object" {
			t.Errorf("%s: list_accounts inputSchema = %v, want an object schema", who, tool.InputSchema)
		}
		props, _ := tool.OutputSchema["properties"].(map[string]any)
		if tool.OutputSchema["type"] != "object" || props["accounts"] == nil {
			t.Errorf("%s: list_accounts outputSchema = %v, want an object schema with accounts", who, tool.OutputSchema)
		}
		return
	}
	t.Errorf("%s: tools/list has no list_accounts; tools: %v", who, names)
}

// checkAccounts checks a list_accounts result: not an error, structured
// content naming the tenant and exactly the wanted accounts (an empty array,
// not null, for none), and a text rendering that agrees.
func checkAccounts(t *testing.T, who string, result any, tenantName string, want ...string) {
	t.Helper()
	r := asWire[wireResult](t, who, result)
	if r.IsError {
		t.Errorf("%s: list_accounts answered a tool error: %s", who, r.text())
		return
	}
	var sc struct {
		Tenant   string         `json:"tenant"`
		Accounts *[]wireAccount `json:"accounts"`
	}
	if err := json.Unmarshal(r.StructuredContent, &sc); err != nil || sc.Accounts == nil {
		t.Errorf("%s: structuredContent = %s, want an object with an accounts array (err %v)", who, r.StructuredContent, err)
		return
	}
	if sc.Tenant != tenantName {
		t.Errorf("%s: structuredContent tenant = %q, want %q", who, sc.Tenant, tenantName)
	}
	var got []string
	for _, a := range *sc.Accounts {
		got = append(got, a.Account)
		if a.Provider != seededAccount.Provider || a.Status != seededAccount.Status ||
			strings.Join(a.Scopes, ",") != strings.Join(seededAccount.Scopes, ",") || a.ConnectedAt != seededAccount.ConnectedAt {
			t.Errorf("%s: account %+v does not match the seeded grant", who, a)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: accounts = %v, want %v", who, got, want)
	}
	text := r.text()
	switch {
	case text == "":
		t.Errorf("%s: list_accounts has no text content", who)
	case len(want) == 0 && !strings.Contains(text, "No accounts"):
		t.Errorf("%s: text %q does not say that no account is connected", who, text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: text %q does not name %s", who, text, w)
		}
	}
}
