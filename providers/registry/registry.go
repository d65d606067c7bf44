// Package registry lists the providers mailcal serves. Adding a provider is
// one package under providers/ and one line here.
package registry

import (
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google"
	"github.com/mailcal/mailcal/providers/microsoft"
)

// Specs returns every provider's spec, in the order help texts list them.
func Specs() []*providers.Spec {
	return []*providers.Spec{
		&google.Spec,
		&microsoft.Spec,
	}
}
