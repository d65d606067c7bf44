package main

import (
	"context"

	"github.com/mailcal/mailcal/providers"
)

func (m stuckMailbox) Thread(context.Context, providers.ThreadQuery) (providers.Thread, error) {
	panic("not used")
}

func (m stuckMailbox) Attachment(context.Context, providers.AttachmentQuery) (providers.AttachmentContent, error) {
	panic("not used")
}
