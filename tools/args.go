package tools

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// argError is an invalid argument: the field and what is allowed.
func argError(field, format string, a ...any) error {
	return &userError{fmt.Sprintf("invalid argument %s: %s", field, fmt.Sprintf(format, a...))}
}

// bind decodes a call's arguments into v, refusing unknown fields so that a
// misspelt argument is reported rather than ignored. Names must match
// exactly: encoding/json would take "TO" or "Cc" for "to" and "cc", and
// {"to": [a], "TO": [b]} would send to b while a client's confirmation
// shows a.
func bind(raw any, v any) error {
	if raw == nil {
		raw = map[string]any{}
	}
	if p, err := planFor(reflect.TypeOf(v).Elem()); err == nil {
		if err := exactNames(raw, p, ""); err != nil {
			return err
		}
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return &userError{"arguments must be a JSON object"}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case asType(err, &te):
			return argError(te.Field, "expected %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return &userError{fmt.Sprintf("unknown argument %s; see the tool's input schema", strings.TrimPrefix(err.Error(), "json: unknown field "))}
		default:
			return &userError{"arguments: " + err.Error()}
		}
	}
	return nil
}

// exactNames refuses an object key of raw that is not, exactly, the name
// of one of p's arguments, through nested objects and lists of objects.
func exactNames(raw any, p *argPlan, path string) error {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil // not an object: Decode reports the type
	}
	for k, val := range m {
		f := p.field(k)
		if f == nil {
			return &userError{fmt.Sprintf("unknown argument %q; see the tool's input schema", path+k)}
		}
		if f.obj == nil {
			continue
		}
		switch f.typ {
		case argObject:
			if err := exactNames(val, f.obj, path+k+"."); err != nil {
				return err
			}
		case argObjects:
			list, _ := val.([]any)
			for i, item := range list {
				if err := exactNames(item, f.obj, fmt.Sprintf("%s%s[%d].", path, k, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func asType(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "float64":
		return "a number"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

// rfc3339 parses a time argument with an offset.
func rfc3339(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, argError(field, "must be an RFC 3339 time with offset, like 2026-11-24T09:00:00+01:00 or 2026-11-24T08:00:00Z; got %q", s)
	}
	return t, nil
}

// zone parses an IANA time zone name.
func zone(field, name string) (*time.Location, error) {
	if name == "" {
		return nil, nil
	}
	if len(name) > 64 || strings.ContainsAny(name, " \t\r\n") {
		return nil, argError(field, "must be an IANA time zone name like Europe/Berlin")
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, argError(field, "unknown time zone %q: use an IANA name like Europe/Berlin or America/New_York", name)
	}
	return loc, nil
}
