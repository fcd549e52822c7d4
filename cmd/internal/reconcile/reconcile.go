// Package reconcile is one run of the job: it reads both sources, digests
// and computes every cycle (package pipeline), writes the private outputs
// (finance CSV reports, review workbook and HTML report with the changes
// since the previous snapshot, warehouse) while the public snapshot is staged
// beside them, commits the public snapshot (latest.json) last, and prunes
// old snapshots.
//
// The commands in cmd/refrecon build a Plan from the configuration (every
// dependency parsed, checked and wired) and call Run; nothing here reads the
// environment or parses a flag.
//
// Run calls the run's jobs in order, each in its own file: read.go (both
// sources at once), settled.go (the settled cycles and the publish guard),
// fixtures.go (a fixture run never replaces real data), publish.go (the
// public snapshot staged beside the private outputs, in the background
// job of background.go that the warehouse's staging uses too), private.go
// (PRIVATE_DIR's staged set and its writers) and record.go (the run's final
// record, peak RSS and heap profile). reconcile.go holds Plan, Report and
// Run, the comparison with the previous snapshot and the warehouse write.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/htmlreport"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/workbook"
	"github.com/rs/zerolog"
)

// ReferralSource is where a run reads the referrals service's rows.
type ReferralSource interface {
	ReadReferrals(ctx context.Context) (pipeline.Referrals, error)
}

// StripeSource is where a run reads Stripe data.
type StripeSource interface {
	ReadStripe(ctx context.Context) (pipeline.Stripe, error)
}

// Warehouse is an open warehouse a run writes its rows into: staged beside
// the private outputs and the public snapshot's staging, committed once
// they are all staged (a driver without staging of its own is wrapped in
// warehouse.WriteAtCommit, and written at the commit).
type Warehouse interface {
	Stage(ctx context.Context, s warehouse.Snapshot) (warehouse.Staged, error)
	Close() error
}

// Plan is a run's validated, wired dependencies: everything is parsed and
// checked before Run is called, so Run reads inputs and writes outputs only.
type Plan struct {
	RunID   string    // the run's id in every log record; "" = a new one (NewRunID)
	Started time.Time // when the run began, its configuration included (timing only); zero = when Run is called

	AsOf        time.Time // the run's clock; the computation reads no other
	Cycles      pipeline.CycleSet
	CodeVersion string // part of the snapshot id

	Referrals ReferralSource
	Stripe    StripeSource
	// Sources names the kind of each source; recorded in the manifest, and
	// a run made from the embedded fixtures never publishes over a
	// snapshot made from real sources (fixtures.go).
	Sources pipeline.InputSources
	// Warehouse opens the warehouse the run writes; nil = no warehouse.
	Warehouse func(ctx context.Context) (Warehouse, error)

	Public         public.Storage // where the public snapshot is published (PUBLIC_DIR)
	PrivateDir     string
	RecordsPerPage int  // leaderboard page size, 1..100
	KeepSnapshots  int  // snapshots kept after the publish; 0 = keep all
	LockWait       bool // wait for another run publishing into Public instead of failing

	// Settlements, when set, reads the settled cycles (SPEC 2.8) from the
	// settlement ledger (SettledFromLedger); nil = no ledger
	// (WAREHOUSE=none), no cycle is settled. A settled cycle is published
	// as its settled snapshot in Public has it, and that snapshot is never
	// pruned.
	Settlements func(ctx context.Context) ([]pipeline.SettledCycle, error)
	// PublishGuard, when set, fails the run before anything is written
	// when an input count dropped too far against the previous snapshot.
	PublishGuard *PublishGuard

	// Log is the run's logger; Run adds run_id to every record.
	Log zerolog.Logger

	// HeapProfile, when set, is where a pprof heap profile is written when
	// the run's memory is at its largest (docs/performance.md).
	HeapProfile string
	// Classify, when set, names the class of a failed run's error and says
	// what to do about it, for the run's record (error_class, hint); cmd
	// maps the error classes the adapters share in one place.
	Classify func(error) (class, hint string)
	// OnStaged, when set (tests), makes Run wait until the public snapshot
	// is staged before it writes the private outputs, and is called with
	// the staged snapshot.
	OnStaged func(*public.Staged, error)
	// OnWarehouseStaged, when set (tests), makes Run wait until the
	// warehouse's snapshot is staged (not committed) before it writes the
	// private outputs, and is called with the staging's error.
	OnWarehouseStaged func(error)
}

// Report is what one run did; it makes the final log record and the
// summary table.
type Report struct {
	RunID      string
	SnapshotID string
	Status     string // "ok" or "failed"
	Seconds    float64
	Counts     pipeline.InputCounts
	Notes      []string
	Result     *pipeline.Result // nil when the run failed before publishing
	Pruned     []string
	ErrorClass string // of a failed run, when Plan.Classify knows it
	ErrorHint  string
	// Changes is what changed since the previous snapshot (nil when there
	// is none); the summary prints its headline.
	Changes *snapdiff.Diff
}

// Run performs one whole run of p: the sources, compute, then the private
// outputs and the warehouse's staging while the public snapshot is staged,
// the warehouse's commit, the private files', and the public snapshot's
// commit (latest.json) last. A failure at any step before the
// commit leaves the previous snapshot and latest.json untouched. Run emits
// the run's one "run finished" record, its error included.
func Run(ctx context.Context, p Plan) (rep Report, err error) {
	started := p.Started
	if started.IsZero() {
		started = time.Now() // timing only; the computation uses asOf
	}
	rep = Report{RunID: p.RunID, Status: "failed"}
	if rep.RunID == "" {
		rep.RunID = NewRunID()
	}
	log := p.Log.With().Str("run_id", rep.RunID).Logger()
	defer func() {
		// A panic is a bug; it fails this run (exit 1, nothing published) and
		// is reported with its stack instead of taking the scheduler down.
		if r := recover(); r != nil {
			log.Error().Str("stack", string(debug.Stack())).Msg("run panicked")
			err = fmt.Errorf("run panicked: %v", r)
		}
		rep.Seconds = time.Since(started).Seconds()
		if err == nil {
			rep.Status = "ok"
		} else if p.Classify != nil {
			rep.ErrorClass, rep.ErrorHint = p.Classify(err)
		}
		LogFinished(log, rep, err)
	}()
	log.Info().Str("stage", "config").Time("as_of", p.AsOf).Int("cycles", len(p.Cycles.Cycles)).
		Float64("seconds", time.Since(started).Seconds()).Msg("configuration loaded")

	unlock, err := p.Public.Lock(ctx, public.LockRequest{RunID: rep.RunID, TTL: lockTTL(ctx), Wait: p.LockWait})
	if err != nil {
		return rep, fmt.Errorf("lock public dir: %w", err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("unlock public dir: %w", uerr)
		}
	}()

	settled, frozen, err := readSettled(ctx, p)
	if err != nil {
		return rep, err
	}

	stage := time.Now()
	in, err := Read(ctx, p)
	if err != nil {
		return rep, err
	}
	notes := slices.Concat(in.Referrals.Notes, in.Stripe.Notes)
	digest := pipeline.DigestInputs(in)
	rep.Counts = digest.Counts
	if err := p.PublishGuard.check(ctx, p.Public, digest.Counts, log); err != nil {
		return rep, err
	}
	info := pipeline.NewRunInfo(digest, p.Cycles, p.AsOf, p.CodeVersion, settled...)
	info.Notes = notes
	info.Sources = p.Sources
	rep.SnapshotID, rep.Notes = info.SnapshotID, notes
	if err := checkFixtures(ctx, p, info, log); err != nil {
		return rep, err
	}
	// The previous snapshot, for the comparison the review reports show,
	// is read while the cycles are computed (loadPrevious).
	diffStart := time.Now()
	previous := loadPrevious(ctx, p.Public, info)
	defer previous.stop()
	for _, n := range notes {
		log.Warn().Str("stage", "read").Str("note", n).Msg("source note")
	}
	c := digest.Counts
	log.Info().Str("stage", "read").Int64("rows", c.Users+c.Referrals+c.Customers+c.Subscriptions+c.Invoices+c.Refunds+c.Disputes+c.CreditNotes).
		Int64("users", c.Users).Int64("referrals", c.Referrals).
		Int64("customers", c.Customers).Int64("subscriptions", c.Subscriptions).Int64("invoices", c.Invoices).
		Int64("refunds", c.Refunds).Int64("disputes", c.Disputes).Int64("credit_notes", c.CreditNotes).Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("inputs read")

	stage = time.Now()
	res, err := pipeline.Compute(in, p.Cycles, p.AsOf)
	if err != nil {
		return rep, err // pipeline.Compute's errors say "compute: ..."
	}
	pipeline.ApplySettled(res, settled)
	// The result holds what the outputs need; the inputs, but for the
	// subscriptions the warehouse keeps, can go.
	out := computed{info: info, res: res, subs: in.Stripe.Subscriptions}
	in = pipeline.Inputs{}
	// Collect now: the last collection ran while the inputs were live, and
	// the heap goal it set would let the output stage grow the heap to
	// twice that (docs/performance.md).
	runtime.GC()
	log.Info().Str("stage", "compute").Int("rows", len(res.Decisions)).Str("snapshot_id", info.SnapshotID).Int("cycles", len(res.Cycles)).
		Int("decisions", len(res.Decisions)).Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("cycles computed")

	// The public snapshot is staged (written in full under a temporary
	// directory nobody reads) while the private outputs are written, and
	// committed (latest.json replaced) only when both succeeded; otherwise
	// it is aborted and the previous snapshot stays the published one.
	stage = time.Now()
	pub := public.New(p.Public, p.RecordsPerPage).WithSettled(frozen...)
	staged := stagePublish(ctx, pub, info, res)
	defer func() {
		if aerr := staged.abort(); aerr != nil {
			log.Warn().Err(aerr).Str("stage", "publish").Msg("staged snapshot not removed")
		}
	}()
	if p.OnStaged != nil {
		p.OnStaged(staged.wait())
	}
	// The comparison with the previous snapshot (for the review reports),
	// read during the computation, runs beside the CSV reports and the
	// warehouse; only the workbook and the HTML report wait for it.
	out.changes = startDiff(ctx, previous, info, res, diffStart, log)
	// The warehouse is staged (SQLite: written in a transaction left open)
	// beside the private files and the public snapshot, and committed only
	// once every private file is staged and the public snapshot prepared;
	// the private files are committed after the warehouse, and latest.json
	// last (private.go). A failure before the warehouse's commit rolls it
	// back. PRIVATE_DIR has its own lock (the warehouse beside it is under
	// it too), taken once there is something to write.
	unlockPrivate, err := lockPrivate(ctx, p, rep.RunID)
	if err != nil {
		return rep, err
	}
	defer func() {
		if uerr := unlockPrivate(); uerr != nil && err == nil {
			err = fmt.Errorf("unlock private dir: %w", uerr)
		}
	}()
	priv, err := stagePrivate(p.PrivateDir, rep.RunID)
	if err != nil {
		return rep, fmt.Errorf("stage private outputs: %w", err)
	}
	defer func() {
		if aerr := priv.abort(); aerr != nil {
			log.Warn().Err(aerr).Str("stage", "private").Msg("staged private outputs not removed")
		}
	}()
	wh := stageWarehouse(ctx, p, out, log)
	defer func() {
		if aerr := wh.abort(); aerr != nil {
			log.Warn().Err(aerr).Str("stage", "private").Msg("staged warehouse snapshot not aborted")
		}
	}()
	if wh != nil && p.OnWarehouseStaged != nil {
		p.OnWarehouseStaged(wh.wait())
	}
	err = writePrivate(ctx, priv.stage, p.PrivateDir, out, log)
	rep.Changes = out.changes()
	if err != nil {
		return rep, err
	}
	s, err := staged.wait()
	if err != nil {
		return rep, fmt.Errorf("publish public snapshot: %w", err)
	}
	if err := wh.wait(); err != nil {
		return rep, err
	}
	if err := writeHeapProfile(p.HeapProfile); err != nil {
		return rep, err
	}
	if err := wh.commit(ctx, log); err != nil {
		return rep, err
	}
	if err := priv.commit(); err != nil {
		return rep, fmt.Errorf("commit private outputs: %w", err)
	}
	log.Info().Str("stage", "private").Int("rows", out.privateRows()).Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("reports and warehouse written")

	commit := time.Now()
	if err := s.Commit(ctx); err != nil {
		return rep, fmt.Errorf("publish public snapshot: %w", err)
	}
	rep.Result = res
	st := s.Stats()
	log.Info().Str("stage", "publish").Int("rows", publicRows(res)).Str("snapshot_id", info.SnapshotID).Str("dir", p.Public.String()).
		Int("files", st.Files).Int("linked", st.Linked).Float64("prepare_seconds", st.Prepare.Seconds()).
		Float64("flush_seconds", st.Flush.Seconds()).Float64("commit_seconds", time.Since(commit).Seconds()).
		Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("public snapshot published")

	// The reports of older snapshots go once this one is published.
	for _, remove := range []func(string, string) error{workbook.RemoveOlder, htmlreport.RemoveOlder} {
		if err := remove(p.PrivateDir, info.SnapshotID); err != nil {
			log.Warn().Err(err).Str("stage", "retention").Msg("older review reports not removed")
		}
	}
	if p.KeepSnapshots > 0 {
		// A snapshot a settlement names is never pruned (SPEC 2.8). The
		// ledger was read under the lock settle apply takes too, so it is
		// still the whole list.
		protected := func(context.Context) ([]string, error) {
			ids := make([]string, 0, len(settled))
			for _, s := range settled {
				ids = append(ids, s.SnapshotID)
			}
			return ids, nil
		}
		removed, err := public.Prune(ctx, p.Public, public.Retention{Keep: p.KeepSnapshots, Protected: protected})
		if err != nil {
			// The snapshot is published; a failed clean-up is reported, not fatal.
			log.Warn().Err(err).Str("stage", "retention").Msg("old snapshots not pruned")
		}
		rep.Pruned = removed
	}
	return rep, nil
}

// computed is what the outputs are written from: the run's info and
// result, and the one part of the inputs an output needs, the
// subscriptions the warehouse keeps.
type computed struct {
	info pipeline.RunInfo
	res  *pipeline.Result
	subs []pipeline.Subscription
	// changes waits for the comparison with the previous snapshot (for
	// the review reports) and returns it; nil when there is none.
	changes func() *snapdiff.Diff
}

// logOutput logs the seconds one private output took since start (stage
// "private", output "csv", "workbook", "html" or "warehouse"), for the
// benchmarks: the CSV reports, workbook, HTML report and the warehouse's
// staging are written at once, so their seconds overlap.
func logOutput(log zerolog.Logger, name string, start time.Time) {
	log.Info().Str("stage", "private").Str("output", name).Float64("seconds", time.Since(start).Seconds()).Msg("private output written")
}

// previousSnapshot is the published snapshot before the run's, for the
// comparison the review reports show; ok is false when there is none.
type previousSnapshot struct {
	s  snapdiff.Snapshot
	ok bool
}

// loadPrevious reads the published snapshot before info's
// (snapdiff.Previous, snapdiff.Published) in the background: started as
// soon as the snapshot id is known, the read runs beside the computation,
// which leaves a core free for much of its time, instead of beside the
// private outputs, which do not (docs/performance.md, change 37).
func loadPrevious(ctx context.Context, store public.Storage, info pipeline.RunInfo) *background[previousSnapshot] {
	return inBackground(ctx, "read the previous snapshot", func(ctx context.Context, p *previousSnapshot) error {
		r := public.NewReader(store)
		id, err := snapdiff.Previous(ctx, r, info.SnapshotID)
		if err != nil || id == "" {
			return err
		}
		if p.s, err = snapdiff.Published(ctx, r, id); err != nil {
			return err
		}
		p.ok = true
		return nil
	})
}

// startDiff compares, in the background, the run's result with the
// previous snapshot once loadPrevious has read it, and returns what waits
// for the comparison: nil when there is nothing to compare with. It never
// fails the run: a previous snapshot that cannot be read, or a panic, is
// logged and means no comparison. The log line's seconds count from start,
// when the previous snapshot's read began.
func startDiff(ctx context.Context, previous *background[previousSnapshot], info pipeline.RunInfo, res *pipeline.Result, start time.Time, log zerolog.Logger) func() *snapdiff.Diff {
	cmp := inBackground(ctx, "compare with the previous snapshot", func(_ context.Context, d **snapdiff.Diff) error {
		old, err := previous.wait()
		if err != nil {
			log.Warn().Err(err).Str("stage", "diff").Msg("previous snapshot not read; the reports show no changes")
		} else if old.ok {
			*d = snapdiff.Compare(old.s, publishedView(old.s, snapdiff.FromResult(info, res), res))
		}
		log.Info().Str("stage", "diff").Bool("previous", *d != nil).Float64("seconds", time.Since(start).Seconds()).Msg("changes since the previous snapshot")
		return nil
	})
	return sync.OnceValue(func() *snapdiff.Diff {
		d, err := cmp.wait()
		if err != nil {
			log.Error().Err(err).Str("stage", "diff").Msg("comparison with the previous snapshot failed; the reports show no changes")
			return nil
		}
		return d
	})
}

// publishedView is cur (the run's result) as it is published: a settled
// cycle is published as it was settled, not as computed, so it is what the
// previous snapshot published of it (the settled snapshot itself, or a
// later one that republished it), Closed. The drift is reported apart
// (res.Settled).
func publishedView(old, cur snapdiff.Snapshot, res *pipeline.Result) snapdiff.Snapshot {
	if len(res.Settled) == 0 {
		return cur
	}
	prev := make(map[string]snapdiff.Cycle, len(old.Cycles))
	for _, c := range old.Cycles {
		prev[c.ID] = c
	}
	out := cur
	out.Cycles = nil
	for _, c := range cur.Cycles {
		if res.SettledCycle(c.ID) == nil {
			out.Cycles = append(out.Cycles, c)
		}
	}
	for _, s := range res.Settled {
		if c, ok := prev[s.CycleID]; ok {
			c.Status = string(pipeline.Closed)
			out.Cycles = append(out.Cycles, c)
		}
	}
	return out
}

// stagedWarehouse is the warehouse's snapshot, staged in a goroutine
// beside the private outputs and the public staging (stageWarehouse). A
// nil *stagedWarehouse is no warehouse: every method does nothing.
type stagedWarehouse struct {
	bg     *background[warehouseStaging]
	closed bool
}

// warehouseStaging is what the warehouse's staging has done so far.
type warehouseStaging struct {
	w Warehouse        // set once opened
	s warehouse.Staged // set once staged
}

// stageWarehouse opens p's warehouse and stages the run's rows in it in a
// goroutine (nil when p has no warehouse). The staging lives as long as
// its own context, cancelled only by abort, so a commit after every other
// output is staged finds it open. A panic there fails the write instead of
// the process.
func stageWarehouse(ctx context.Context, p Plan, out computed, log zerolog.Logger) *stagedWarehouse {
	if p.Warehouse == nil {
		return nil
	}
	return &stagedWarehouse{bg: inBackground(ctx, "write warehouse", func(ctx context.Context, st *warehouseStaging) error {
		start := time.Now()
		w, err := p.Warehouse(ctx)
		if err != nil {
			return fmt.Errorf("open warehouse: %w", err)
		}
		st.w = w
		if st.s, err = w.Stage(ctx, warehouse.FromResult(out.info, out.res, out.subs)); err != nil {
			return fmt.Errorf("write warehouse: %w", err)
		}
		logOutput(log, "warehouse", start)
		return nil
	})}
}

// wait returns the staging's error once it has finished.
func (sw *stagedWarehouse) wait() error {
	if sw == nil {
		return nil
	}
	_, err := sw.bg.wait()
	return err
}

// commit commits the staged snapshot (wait returned nil) and closes the
// warehouse.
func (sw *stagedWarehouse) commit(ctx context.Context, log zerolog.Logger) error {
	if sw == nil {
		return nil
	}
	start := time.Now()
	st, _ := sw.bg.wait()
	if err := st.s.Commit(ctx); err != nil {
		return fmt.Errorf("write warehouse: %w", err)
	}
	log.Info().Str("stage", "private").Str("output", "warehouse_commit").Float64("seconds", time.Since(start).Seconds()).Msg("warehouse committed")
	return sw.close()
}

// abort stops a staging still running, waits for it, rolls back what it
// staged and closes the warehouse; after commit it does nothing.
func (sw *stagedWarehouse) abort() error {
	if sw == nil {
		return nil
	}
	var err error
	if st := sw.bg.stop(); st.s != nil {
		err = st.s.Abort()
	}
	return errors.Join(err, sw.close())
}

func (sw *stagedWarehouse) close() error {
	st, _ := sw.bg.wait()
	if st.w == nil || sw.closed {
		return nil
	}
	sw.closed = true
	if err := st.w.Close(); err != nil {
		return fmt.Errorf("close warehouse: %w", err)
	}
	return nil
}
