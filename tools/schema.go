package tools

import "github.com/mark3labs/mcp-go/mcp"

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
