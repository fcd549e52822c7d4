package reconcile

import (
	"context"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
)

// stagedPublish is a public.Publisher.Prepare running beside the private
// outputs (wait returns the staged snapshot once Prepare has finished).
type stagedPublish struct{ *background[*public.Staged] }

// stagePublish starts preparing the public snapshot in a goroutine. A panic
// there fails the publish instead of the process.
func stagePublish(ctx context.Context, pub *public.Publisher, info pipeline.RunInfo, res *pipeline.Result) stagedPublish {
	return stagedPublish{inBackground(ctx, "", func(ctx context.Context, s **public.Staged) (err error) {
		*s, err = pub.Prepare(ctx, info, res)
		return err
	})}
}

// abort stops a Prepare still running, waits for it and removes what it
// staged; after a Commit it does nothing.
func (sp stagedPublish) abort() error {
	if s := sp.stop(); s != nil {
		return s.Abort()
	}
	return nil
}

// lockTTL is how long the publication lock stands if the run dies
// holding it, on stores without a kernel lock (buckets): the run's
// deadline and a minute, or six hours without one.
func lockTTL(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d) + time.Minute
	}
	return 6 * time.Hour
}

// publicRows is how many records the public snapshot holds: one referrer
// file per users row and every leaderboard entry. For the stage log.
func publicRows(res *pipeline.Result) int {
	n := len(res.Referrers)
	for i := range res.Cycles {
		n += len(res.Cycles[i].Leaderboard)
	}
	return n
}
