package tools

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// tool is one MCP tool, declared once: everything models see (name,
// description, the input schema with its limits and field descriptions,
// the output schema, the annotations) derives from it, and so do the
// checks of every call and the scope the account must have.
type tool struct {
	name, title, desc string
	// scope is the scope name an account needs for the call ("" none).
	scope string
	hints hints
	// sends: the tool sends mail, and is not served to a drafts_only tenant.
	sends bool
	// uncertain says, for a tool that changes something, what may have
	// happened when a call ends before its answer came (a timeout) and how
	// to check it.
	uncertain string
	// vars fill this tool's {placeholders} (before the server-wide ones).
	vars map[string]string
	// enums lists the values of arguments whose choices come from the
	// provider registry (shown in the schema; the call resolves them).
	enums   map[string][]string
	args    reflect.Type
	out     mcp.ToolOption
	handler server.ToolHandlerFunc
}

// hints are the four MCP annotations, all set explicitly: mcp-go's defaults
// mark every tool destructive and not read-only.
type hints struct{ readOnly, destructive, idempotent, openWorld bool }

// Common annotations.
var (
	reads   = hints{readOnly: true, idempotent: true, openWorld: true}
	changes = hints{openWorld: true}
)

// definition builds what tools/list shows.
func (t tool) definition(vars map[string]string) (mcp.Tool, error) {
	all := maps.Clone(vars)
	maps.Copy(all, t.vars)
	desc, err := fillPlaceholders(t.desc, all)
	if err != nil {
		return mcp.Tool{}, fmt.Errorf("tool %s: %w", t.name, err)
	}
	schema, err := argSchema(t.args, all)
	if err != nil {
		return mcp.Tool{}, fmt.Errorf("tool %s: %w", t.name, err)
	}
	def := mcp.NewTool(t.name, mcp.WithDescription(desc), mcp.WithToolAnnotation(mcp.ToolAnnotation{
		Title:           t.title,
		ReadOnlyHint:    mcp.ToBoolPtr(t.hints.readOnly),
		DestructiveHint: mcp.ToBoolPtr(t.hints.destructive),
		IdempotentHint:  mcp.ToBoolPtr(t.hints.idempotent),
		OpenWorldHint:   mcp.ToBoolPtr(t.hints.openWorld),
	}), t.out)
	for name, values := range t.enums {
		if p, ok := schema.Properties[name].(map[string]any); ok {
			p["enum"] = values
		}
	}
	def.InputSchema = schema
	tidyOutputSchema(&def)
	return def, nil
}

// checker is implemented by args structs with checks beyond their tags
// (several fields together, parsing); it may prepare what the call needs.
type checker interface {
	check(now time.Time) error
}

// decl is what a tool declaration says besides its types.
type decl struct {
	name, title, desc, scope string
	// also are scopes needed besides scope (a draft sent needs mail.send
	// and mail.modify).
	also      []string
	hints     hints
	sends     bool
	uncertain string
	vars      map[string]string
	enums     map[string][]string
}

// bindArgs decodes, validates and checks a call's arguments.
func bindArgs[A any](h *handlers, req mcp.CallToolRequest) (*A, error) {
	a := new(A)
	if err := bind(req.Params.Arguments, a); err != nil {
		return nil, err
	}
	if err := validate(a); err != nil {
		return nil, err
	}
	if c, ok := any(a).(checker); ok {
		if err := c.check(h.now()); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// tenantTool declares a tool that acts for the caller's tenant: run gets
// the checked arguments and answers a result and its compact text.
func tenantTool[A, R any](h *handlers, d decl, run func(ctx context.Context, tenant string, a *A) (R, string, error)) tool {
	return tool{
		name: d.name, title: d.title, desc: d.desc, scope: d.scope, hints: d.hints, sends: d.sends, uncertain: d.uncertain, vars: d.vars, enums: d.enums,
		args: reflect.TypeFor[A](), out: mcp.WithOutputSchema[R](),
		handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			t, err := tenantOf(ctx)
			if err != nil {
				return nil, err
			}
			a, err := bindArgs[A](h, req)
			if err != nil {
				return nil, err
			}
			ctx = context.WithValue(ctx, roundTripKey{}, req.Params.MultiRoundTripParams)
			res, text, err := run(ctx, t, a)
			var in *inputNeeded
			if errors.As(err, &in) {
				return in.result, nil
			}
			if err != nil {
				return nil, err
			}
			return mcp.NewToolResultStructured(res, text), nil
		},
	}
}

// named is the optional "account" argument every account tool takes.
type named interface{ accountName() string }

// accountTool declares a tool that acts for one account: the one named, or
// the only one with the tool's scope, resolved (scope checked) before run.
func accountTool[A any, R any](h *handlers, d decl, run func(ctx context.Context, g grants.Grant, a *A) (R, string, error)) tool {
	return tenantTool(h, d, func(ctx context.Context, t string, a *A) (R, string, error) {
		var zero R
		var need []string
		if d.scope != "" {
			need = append([]string{d.scope}, d.also...)
		}
		name := ""
		if n, ok := any(a).(named); ok {
			name = n.accountName()
		}
		if isAll(name) {
			return zero, "", argError("account", `"all" is taken only by list_events and find_free_time; name one account's address (list_accounts shows them)`)
		}
		g, err := h.resolveAccount(ctx, t, name, need...)
		if err != nil {
			return zero, "", err
		}
		noteAccount(ctx, g)
		return run(ctx, g, a)
	})
}

// account is the optional "account" argument of account tools; {account_can}
// says what the account must be able to do.
type account struct {
	Account string `json:"account,omitempty" arg:"max=254,kind=token" jsonschema:"email address of the account to use; may be left out when one connected account can {account_can}, or on a connection signed in through OAuth, where the signed-in account is used; \"all\" works only in list_events and find_free_time"`
}

func (a account) accountName() string { return a.Account }

// placeholders are the server-wide values of the {placeholders} in tool
// descriptions, from the specs of the providers served: every description
// is true for every provider.
func placeholders(reg *providers.Registry) map[string]string {
	var syntax, labels, invites, tags, sizes, mail, cal, fwd, conf, reminders []string
	for _, p := range reg.All() {
		w := p.Words
		if f := strconv.Quote(cmp.Or(w.ForwardPrefix, "Fwd:")); !slices.Contains(fwd, f) {
			fwd = append(fwd, f)
		}
		mail, cal = append(mail, w.Mail), append(cal, w.Calendar)
		syntax = append(syntax, w.SearchSyntax)
		labels = append(labels, w.Labels)
		invites = append(invites, w.Invitations)
		tags = append(tags, w.Tags)
		conf = append(conf, w.Conference)
		reminders = append(reminders, w.Reminders)
		sizes = append(sizes, fmt.Sprintf("%.0f MB (%s)", float64(p.Limits.MaxMessageBytes)/(1<<20), p.Title))
	}
	one := func(parts []string, intro string) string {
		if len(parts) == 1 {
			return parts[0]
		}
		return intro + strings.Join(parts, "; ")
	}
	return map[string]string{
		"providers":       reg.Choices(),
		"provider_help":   reg.Help(),
		"mail_products":   strings.Join(slices.Compact(mail), ", "),
		"cal_products":    strings.Join(slices.Compact(cal), ", "),
		"search_syntax":   one(syntax, "the syntax of the account's provider: "),
		"labels":          one(labels, "by provider: "),
		"invitations":     one(invites, "by provider: "),
		"tags":            one(tags, "by provider: "),
		"conference":      strings.Join(conf, "; "),
		"reminders":       one(reminders, "by provider: "),
		"max_message":     strings.Join(sizes, ", "),
		"fwd_prefixes":    strings.Join(fwd, " or "),
		"scope_names":     strings.Join(providers.AllScopes, ", "),
		"default_scopes":  strings.Join(providers.DefaultScopes, ","),
		"readonly_scopes": strings.Join(providers.ReadOnlyScopes, ","),
	}
}

// tidyOutputSchema rewrites the nullable slices of a generated output
// schema (type ["null","array"]) as plain arrays: every tool answers [] rather
// than null, and some clients warn on union types.
func tidyOutputSchema(t *mcp.Tool) {
	for _, v := range t.OutputSchema.Properties {
		tidySchemaNode(v)
	}
}

func tidySchemaNode(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if types, ok := m["type"].([]any); ok && len(types) == 2 {
		var other string
		for _, x := range types {
			if s, _ := x.(string); s != "null" {
				other = s
			}
		}
		if other != "" && (types[0] == "null" || types[1] == "null") {
			m["type"] = other
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		tidySchemaNode(m[key])
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for _, p := range props {
			tidySchemaNode(p)
		}
	}
}
