package reconcile

import (
	"context"

	"github.com/refrecon/refrecon/pipeline"
	"golang.org/x/sync/errgroup"
)

// Read reads both of p's sources at once: the pipeline's inputs, with what
// each source noticed without failing in its Notes (Referrals.Notes,
// Stripe.Notes).
func Read(ctx context.Context, p Plan) (pipeline.Inputs, error) {
	var in pipeline.Inputs
	// The first error cancels the other read and is the one reported. Each
	// source's errors name the source ("referrals source sqlite:PATH: ...",
	// "stripe api: ..."): they are not wrapped again.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		in.Referrals, err = p.Referrals.ReadReferrals(gctx)
		return err
	})
	g.Go(func() (err error) {
		in.Stripe, err = p.Stripe.ReadStripe(gctx)
		return err
	})
	if err := g.Wait(); err != nil {
		return pipeline.Inputs{}, err
	}
	return in, nil
}
