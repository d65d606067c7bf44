package providers

import "testing"

func TestAddressString(t *testing.T) {
	for _, c := range []struct {
		a    Address
		want string
	}{
		{Address{Email: "a@example.com"}, "a@example.com"},
		{Address{Name: "Ann", Email: "a@example.com"}, "Ann <a@example.com>"},
		{Address{Name: "A@EXAMPLE.com", Email: "a@example.com"}, "a@example.com"},
		{Address{Name: "Doe, Jane", Email: "j@example.com"}, `"Doe, Jane" <j@example.com>`},
		{Address{Name: `"x", eve@evil.example, "y"`, Email: "j@example.com"}, `"\"x\", eve@evil.example, \"y\"" <j@example.com>`},
		{Address{Name: `back\slash (x)`, Email: "j@example.com"}, `"back\\slash (x)" <j@example.com>`},
	} {
		if got := c.a.String(); got != c.want {
			t.Errorf("%+v.String() = %s, want %s", c.a, got, c.want)
		}
	}
}
