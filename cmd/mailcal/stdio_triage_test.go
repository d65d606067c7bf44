package main

import (
	"context"

	"github.com/mailcal/mailcal/providers"
)

func (m stuckMailbox) ModifyMessages(context.Context, []string, providers.MessageChange) (providers.ModifyResult, error) {
	panic("not used")
}

func (m stuckMailbox) ListLabels(context.Context) ([]providers.Label, error) { panic("not used") }
