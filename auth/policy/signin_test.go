package policy

import "testing"

func TestSigninAllowed(t *testing.T) {
	p := Policy{AllowedSignins: []string{"alice@example.com", "*@corp.example"}}
	for addr, want := range map[string]bool{
		"alice@example.com":     true,
		" Alice@Example.COM ":   true,
		"bob@example.com":       false,
		"carol@corp.example":    true,
		"CAROL@CORP.EXAMPLE":    true,
		"dave@sub.corp.example": false, // a domain entry is that domain only
		"eve@corp.example.evil": false,
		"corp.example":          false,
		"@corp.example":         false,
		"x@corp.example@evil":   false,
		"":                      false,
	} {
		if got := p.SigninAllowed(addr); got != want {
			t.Errorf("SigninAllowed(%q) = %v, want %v", addr, got, want)
		}
	}
	var empty Policy
	if empty.SigninAllowed("alice@example.com") {
		t.Error("an empty allowed_signins let someone sign in")
	}
	star := Policy{AllowedSignins: []string{"*@example.com"}}
	if star.SigninAllowed("*@example.com") {
		t.Error("the entry itself read as an address")
	}
}
