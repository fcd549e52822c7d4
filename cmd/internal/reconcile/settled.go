package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/rs/zerolog"
)

// SettledFromLedger reads the settled cycles from a settlement ledger: each
// cycle with ledger entries, the snapshot it was settled from, its currency
// and the award it settled per referrer (its award entries; a referrer
// without one was settled with 0).
func SettledFromLedger(ctx context.Context, l *warehouse.Ledger) ([]pipeline.SettledCycle, error) {
	cycles, err := l.SettledCycles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]pipeline.SettledCycle, 0, len(cycles))
	for _, c := range cycles {
		entries, err := l.Entries(ctx, c.CycleID)
		if err != nil {
			return nil, err
		}
		s := pipeline.SettledCycle{CycleID: c.CycleID, SnapshotID: c.SnapshotID, Awards: map[string]int64{}}
		for _, e := range entries {
			if e.EntryKind != warehouse.EntryAward {
				continue
			}
			s.Awards[e.Refcode] += e.AwardMinor
			s.Currency = e.Currency
		}
		out = append(out, s)
	}
	return out, nil
}

// readSettled reads the settled cycles (p.Settlements) and, for each, its
// documents in the snapshot it was settled from: the run publishes those.
// A settled snapshot that cannot be read fails the run: the cycle cannot be
// published as it was settled without it.
func readSettled(ctx context.Context, p Plan) ([]pipeline.SettledCycle, []*public.Settled, error) {
	if p.Settlements == nil {
		return nil, nil, nil
	}
	settled, err := p.Settlements(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read the settled cycles: %w", err)
	}
	r := public.NewReader(p.Public)
	frozen := make([]*public.Settled, 0, len(settled))
	for i, s := range settled {
		doc, err := r.Settled(ctx, s.CycleID, s.SnapshotID)
		if err != nil {
			return nil, nil, fmt.Errorf("publish settled cycles: %w", err)
		}
		if s.Currency == "" {
			settled[i].Currency = doc.Currency()
		}
		frozen = append(frozen, doc)
	}
	return settled, frozen, nil
}

// PublishGuard refuses to publish a run whose inputs shrank too much
// against the previous snapshot: after a settlement a bad snapshot is
// expensive, and a truncated source must not publish zeros.
type PublishGuard struct {
	// MaxDropPercent is how far (0..100) the users, referrals, customers
	// or invoices count may fall below the previous snapshot's manifest.
	MaxDropPercent int
	// Force publishes anyway (run --force, this run only); the drop is
	// logged.
	Force bool
}

// check compares counts with the manifest of the snapshot latest.json
// names. Nothing published yet, or a previous manifest that cannot be read
// (logged), passes: there is nothing to compare with.
func (g *PublishGuard) check(ctx context.Context, store public.Storage, counts pipeline.InputCounts, log zerolog.Logger) error {
	if g == nil {
		return nil
	}
	r := public.NewReader(store)
	prev, err := r.Latest(ctx)
	if err != nil {
		return nil // nothing published, or latest.json unreadable: the publish reports it
	}
	m, err := r.Manifest(ctx, prev)
	if err != nil {
		log.Warn().Err(err).Str("stage", "guard").Msg("previous manifest not read; the publish guard has nothing to compare with")
		return nil
	}
	was := m.Inputs.Counts
	var drops []string
	for _, c := range []struct {
		name     string
		old, now int64
	}{
		{"users", was.Users, counts.Users}, {"referrals", was.Referrals, counts.Referrals},
		{"customers", was.Customers, counts.Customers}, {"invoices", was.Invoices, counts.Invoices},
	} {
		// now < old × (1 - max/100), in integers.
		if c.old > 0 && (c.old-c.now)*100 > int64(g.MaxDropPercent)*c.old {
			drops = append(drops, fmt.Sprintf("%s %d -> %d (-%.1f%%)", c.name, c.old, c.now, float64(c.old-c.now)*100/float64(c.old)))
		}
	}
	if len(drops) == 0 {
		return nil
	}
	msg := fmt.Sprintf("input counts dropped more than %d%% (PUBLISH_GUARD_MAX_DROP) against snapshot %s: %s", g.MaxDropPercent, prev, strings.Join(drops, ", "))
	if g.Force {
		log.Warn().Str("stage", "guard").Str("drops", strings.Join(drops, ", ")).Str("previous", prev).Msg("publish guard overridden (--force)")
		return nil
	}
	return fmt.Errorf("publish guard: %s; nothing was published (check the sources, or run --force to publish anyway)", msg)
}
