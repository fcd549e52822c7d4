package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/refrecon/refrecon/sinks/csvreport"
	"github.com/refrecon/refrecon/sinks/htmlreport"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	"github.com/refrecon/refrecon/sinks/workbook"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// The private outputs of a run (the finance CSV reports, the review
// workbook and HTML report, and whatever else is written into PRIVATE_DIR)
// are one set, committed together: every file is written into a staging
// directory of the run's own, PRIVATE_DIR/.staging-<run id>/, and moved
// into PRIVATE_DIR by rename only after every one of them, the public
// snapshot's staging and the warehouse's commit have succeeded. A run that
// fails before that leaves PRIVATE_DIR as the last successful run left it,
// and the warehouse, staged beside the private files in its own
// transaction, is committed only once every private file is staged (a
// failure before rolls it back). A writer joins the set by writing into the
// directory it is given.

// stagingPrefix starts the name of a run's staging directory.
const stagingPrefix = ".staging-"

// privateSet is the staging directory of one run's private files.
type privateSet struct {
	dir   string // PRIVATE_DIR
	stage string // PRIVATE_DIR/.staging-<run id>; "" once committed or aborted
}

// stagePrivate creates the run's staging directory in dir, after removing
// the staging directories of crashed runs (the caller holds dir's lock, so
// no other run is using one).
func stagePrivate(dir, runID string) (*privateSet, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), stagingPrefix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("remove a crashed run's %s: %w", e.Name(), err)
			}
		}
	}
	stage := filepath.Join(dir, stagingPrefix+runID)
	if err := os.Mkdir(stage, 0o700); err != nil {
		return nil, err
	}
	return &privateSet{dir: dir, stage: stage}, nil
}

// commit moves every file of the staging directory into PRIVATE_DIR
// (rename: each replaces the file of the same name at once), syncs
// PRIVATE_DIR and removes the staging directory. Names starting with '.'
// (a writer's own temporary files) are not part of the set.
func (s *privateSet) commit() error {
	if s.stage == "" {
		return errors.New("private files already committed or aborted")
	}
	ents, err := os.ReadDir(s.stage)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("staged private output %s is not a regular file", e.Name())
		}
		if err := os.Rename(filepath.Join(s.stage, e.Name()), filepath.Join(s.dir, e.Name())); err != nil {
			return err
		}
	}
	if err := localdir.SyncDir(s.dir); err != nil {
		return err
	}
	stage := s.stage
	s.stage = ""
	return os.RemoveAll(stage)
}

// abort removes the staging directory; PRIVATE_DIR keeps what it had.
// After commit it does nothing.
func (s *privateSet) abort() error {
	if s == nil || s.stage == "" {
		return nil
	}
	stage := s.stage
	s.stage = ""
	return os.RemoveAll(stage)
}

// lockPrivate takes PRIVATE_DIR's own lock (flock on
// PRIVATE_DIR/.refrecon.lock, as for a local PUBLIC_DIR), so that two runs
// sharing one PRIVATE_DIR (and the warehouse beside it) never write it at
// once, even when their PUBLIC_DIRs differ.
func lockPrivate(ctx context.Context, p Plan, runID string) (func() error, error) {
	unlock, err := localdir.Open(p.PrivateDir).Lock(ctx, public.LockRequest{RunID: runID, TTL: lockTTL(ctx), Wait: p.LockWait})
	var le *public.LockedError
	switch {
	case errors.As(err, &le) && le.Holder.Unknown:
		return nil, fmt.Errorf("PRIVATE_DIR %s is locked by another process (holder unknown): %w", p.PrivateDir, public.ErrLocked)
	case errors.As(err, &le):
		return nil, fmt.Errorf("PRIVATE_DIR %s is locked by pid %d on host %s (%s, since %s): %w", p.PrivateDir,
			le.Holder.PID, le.Holder.Host, le.Holder.Command, le.Holder.Since.UTC().Format(time.RFC3339), public.ErrLocked)
	case err != nil:
		return nil, fmt.Errorf("lock private dir: %w", err)
	}
	return unlock, nil
}

// writePrivate writes the finance CSV reports and the review workbook and
// HTML report into dir (the run's staging directory) at once; the
// workbook copies unchanged sheets from the previous one in prevDir
// (PRIVATE_DIR, review.Input.CarryFrom). All are
// attempted to the end: one failing does not cancel the others, and every
// error is reported.
func writePrivate(ctx context.Context, dir, prevDir string, out computed, log zerolog.Logger) error {
	var g errgroup.Group
	var csvErr, xlsxErr, htmlErr error
	timed := func(name string, errp *error, f func() error) {
		g.Go(func() error {
			start := time.Now()
			if *errp = f(); *errp == nil {
				logOutput(log, name, start)
			}
			return nil
		})
	}
	timed("csv", &csvErr, func() error {
		if err := csvreport.New(dir).Write(ctx, out.info, out.res); err != nil {
			return fmt.Errorf("write finance reports: %w", err)
		}
		return nil
	})
	// The review reports show the changes since the previous snapshot,
	// which the CSV reports do not need: each starts with what does not
	// need the comparison and waits for it only when it gets to the
	// changes (LaterChanges). Each logs how long it waited
	// (diff_wait_seconds, part of its seconds); the workbook also how many
	// of its worksheets it copied from the previous one (sheets_copied of
	// sheets).
	review := func(name string, errp *error, write func(context.Context, string, workbook.Input) (*zerolog.Event, error)) {
		g.Go(func() error {
			start := time.Now()
			var wait time.Duration
			in := workbook.Input{Info: out.info, Result: out.res, CarryFrom: prevDir, LaterChanges: func() *snapdiff.Diff {
				t := time.Now()
				defer func() { wait += time.Since(t) }()
				return out.changes()
			}}
			var ev *zerolog.Event
			if ev, *errp = write(ctx, dir, in); *errp == nil {
				ev.Str("stage", "private").Str("output", name).Float64("seconds", time.Since(start).Seconds()).
					Float64("diff_wait_seconds", wait.Seconds()).Msg("private output written")
			}
			return nil
		})
	}
	review("workbook", &xlsxErr, func(ctx context.Context, dir string, in workbook.Input) (*zerolog.Event, error) {
		w, err := workbook.Write(ctx, dir, in)
		return log.Info().Int("sheets", w.Sheets).Int("sheets_copied", w.Copied), err
	})
	review("html", &htmlErr, func(ctx context.Context, dir string, in workbook.Input) (*zerolog.Event, error) {
		_, err := htmlreport.Write(ctx, dir, in)
		return log.Info(), err
	})
	_ = g.Wait()
	return errors.Join(csvErr, xlsxErr, htmlErr)
}

// privateRows is how many records the private stage writes: the warehouse's
// decision, leaderboard, accounting and subscription rows (the CSV reports
// carry the same leaderboard and accounting lines). For the stage log.
func (out computed) privateRows() int {
	n := len(out.res.Decisions) + len(out.subs)
	for _, c := range out.res.Cycles {
		n += len(c.Leaderboard) + len(c.Events)
	}
	return n
}
