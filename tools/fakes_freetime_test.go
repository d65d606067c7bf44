package tools

import (
	"context"
	"slices"

	"github.com/mailcal/mailcal/providers"
)

func (c fakeCal) FreeBusy(ctx context.Context, q providers.FreeBusyQuery) (providers.FreeBusy, error) {
	if err := c.check(); err != nil {
		return providers.FreeBusy{}, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.lastFB = q
	fb := c.f.freeBusy
	fb.Schedules = slices.Clone(fb.Schedules)
	return fb, nil
}

func (c stuckCal) FreeBusy(ctx context.Context, _ providers.FreeBusyQuery) (providers.FreeBusy, error) {
	return providers.FreeBusy{}, c.block(ctx, c.src)
}
