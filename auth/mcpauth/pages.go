package mcpauth

import (
	"html/template"
	"net/http"

	"github.com/mailcal/mailcal/auth/oauth"
)

// pageTmpl is every page /authorize and the sign-in's callback show. What
// a client or a provider chose (a client's name, an account) is only ever
// text, escaped by html/template.
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailcal: {{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.err{color:#a4161a}ul{padding:0;list-style:none}li{margin:.6rem 0}
button.p{display:inline-block;font:inherit;background:#fff;cursor:pointer;padding:.6rem 1rem;border:1px solid #888;border-radius:.4rem;color:#222;text-decoration:none}
code{display:block;background:#f3f3f3;padding:.6rem;overflow-wrap:anywhere}</style></head>
<body><h1 class="{{.Class}}">{{.Title}}</h1>{{range .Paragraphs}}<p>{{.}}</p>{{end}}
{{with .Form}}<form method="post" action="{{.Action}}">{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<ul>{{range .Buttons}}<li><button class="p" type="submit" name="{{.Name}}" value="{{.Value}}">{{.Text}}</button></li>{{end}}</ul></form>{{end}}
{{if .Command}}<code>{{.Command}}</code>{{end}}</body></html>
`))

// page is what a page says.
type page struct {
	Title, Class string
	Paragraphs   []string
	Form         *form
	Command      string
}

// writePage answers an HTML page with auth/oauth's page headers.
func writePage(w http.ResponseWriter, status int, p page) {
	oauth.PageHeaders(w.Header())
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, p)
}

// errorPage is a page for an authorization that cannot go back to its
// client (an unknown client, a redirect URI it did not register).
func errorPage(w http.ResponseWriter, status int, msg, hint string) {
	p := page{Title: "Cannot sign in", Class: "err", Paragraphs: []string{msg}}
	if hint != "" {
		p.Paragraphs = append(p.Paragraphs, hint)
	}
	writePage(w, status, p)
}
