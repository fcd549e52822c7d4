package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/rs/zerolog"
)

// ErrFixtureOverReal is the class of a run refused because it would publish
// fixture data over a snapshot made from real sources.
var ErrFixtureOverReal = errors.New("refusing to publish fixture data over a snapshot made from real sources")

// checkFixtures warns whenever a run uses the embedded fixtures, and refuses
// the run (before anything is written) when it would publish fixture data
// for an input whose source, in the snapshot latest.json names, was real:
// a deployment missing REFERRALS_SOURCE or STRIPE_SOURCE must not replace
// the real leaderboards with the fixture's. A latest snapshot whose
// manifest does not say its sources (written before refrecon recorded
// them) counts as real unless its inputs digest is this run's (the same
// fixture data).
func checkFixtures(ctx context.Context, p Plan, info pipeline.RunInfo, log zerolog.Logger) error {
	src := p.Sources
	if !src.UsesFixture() {
		return nil
	}
	var vars []string
	if src.Referrals == pipeline.SourceFixture {
		vars = append(vars, "REFERRALS_SOURCE")
	}
	if src.Stripe == pipeline.SourceFixture {
		vars = append(vars, "STRIPE_SOURCE")
	}
	log.Warn().Str("stage", "read").Strs("fixture_inputs", vars).
		Msg("the run uses the embedded fixture data, not real sources: set " + strings.Join(vars, " and ") + " for production")

	r := public.NewReader(p.Public)
	id, err := r.Latest(ctx)
	if errors.Is(err, public.ErrNoSnapshot) {
		return nil // nothing published yet
	}
	if err != nil {
		return fmt.Errorf("read the latest snapshot: %w", err)
	}
	m, err := r.Manifest(ctx, id)
	if err != nil {
		return fmt.Errorf("read the latest snapshot's manifest: %w", err)
	}
	var over []string
	prev := m.Inputs.Sources
	for _, in := range []struct{ name, now, before string }{
		{"REFERRALS_SOURCE", src.Referrals, sourceOf(prev, true)},
		{"STRIPE_SOURCE", src.Stripe, sourceOf(prev, false)},
	} {
		if in.now != pipeline.SourceFixture {
			continue
		}
		real := in.before != pipeline.SourceFixture && in.before != ""
		if prev == nil {
			real = m.Inputs.SHA256 != info.Inputs.SHA256
		}
		if real {
			over = append(over, in.name)
		}
	}
	if len(over) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s is unset (or \"fixture\"), so the run read the embedded fixtures, but the latest snapshot in %s (%s) was made from real data; set %s to the real source (README \"Inputs\"); nothing was written",
		ErrFixtureOverReal, strings.Join(over, " and "), p.Public, id, strings.Join(over, " and "))
}

// sourceOf is the referrals (or Stripe) source kind a manifest recorded;
// "" when it recorded none.
func sourceOf(s *pipeline.InputSources, referrals bool) string {
	switch {
	case s == nil:
		return ""
	case referrals:
		return s.Referrals
	default:
		return s.Stripe
	}
}
