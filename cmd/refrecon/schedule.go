package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
	_ "time/tzdata" // CRON_TZ= works in images without a zoneinfo database (scratch)

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
)

func init() {
	register(&command{
		name:    "schedule",
		summary: "long-running: run on SCHEDULE (cron, CRON_TZ= supported), one run at a time, stop on SIGTERM",
		run:     scheduleCommand,
	})
}

const scheduleUsage = `Usage: refrecon schedule

Runs the job on SCHEDULE, a five-field cron expression evaluated in UTC
unless it starts with CRON_TZ=Zone (default "0 4 * * *": 04:00 UTC daily).
Never two runs at once: a run still going when the next is due makes that
firing be skipped, and logged. Each run gets RUN_TIMEOUT (default 1h).
On SIGTERM or SIGINT no new run starts; a run in progress gets
SHUTDOWN_GRACE (default 5m) to finish, then is cancelled. Exit status 0
after a clean stop, 1 if a run had to be cancelled, 2 for a configuration
error. Every other variable is as for "refrecon run"; AS_OF is refused.
`

func scheduleCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("schedule", flag.ContinueOnError)
	if done, err := parseFlags(fs, args, 0, scheduleUsage, stdout, stderr); done {
		return err
	}
	cfg, log, err := loadEnv(ctx, envconfig.OsLookuper(), stderr)
	if err != nil {
		return err
	}
	if cfg.AsOf != "" {
		return asConfigError(fmt.Errorf("AS_OF %q: not for schedule, whose runs are each computed at their start", cfg.AsOf))
	}
	if err := logMemoryLimit(cfg, log); err != nil {
		return err
	}
	opts := scheduleOptions{Spec: cfg.Schedule, RunTimeout: cfg.RunTimeout, ShutdownGrace: cfg.ShutdownGrace}
	if err := opts.check(); err != nil {
		return err
	}
	// Check every other variable (and the cycle set) now, as each run will:
	// a bad configuration is exit 2 at start, not a failed run at 04:00.
	p, err := newPlan(ctx, cfg, log)
	if err != nil {
		return err
	}
	p.close()
	return runSchedule(ctx, opts, log, scheduledRun(cfg, log))
}

// scheduledRun is the job run at each firing: one runOnce, exactly as
// "refrecon run" does it. Every firing's outcome is in one "run finished"
// record: reconcile.Run emits it for a run, and this job for a
// configuration that fails at the firing (a cycle set URL that no longer
// loads). The error comes back marked as reported, so runSchedule does not
// log it a second time.
func scheduledRun(cfg *config, log zerolog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := runOnce(ctx, cfg, log)
		if reported := (*reportedError)(nil); err != nil && !errors.As(err, &reported) {
			rep := reconcile.Report{RunID: reconcile.NewRunID(), Status: "failed"}
			reconcile.LogFinished(log.With().Str("run_id", rep.RunID).Logger(), rep, err)
			return &reportedError{err: err}
		}
		return err
	}
}

// scheduleOptions are the scheduler's settings (SCHEDULE, RUN_TIMEOUT,
// SHUTDOWN_GRACE).
type scheduleOptions struct {
	Spec          string
	RunTimeout    time.Duration
	ShutdownGrace time.Duration
}

// errRunCancelled is returned when shutdown had to cancel a run in progress.
var errRunCancelled = errors.New("a run was still going when SHUTDOWN_GRACE expired and was cancelled")

// stopWait bounds how long, after cancelling a run at shutdown, runSchedule
// waits for it to return.
const stopWait = 30 * time.Second

// check reports a bad option as a configuration error.
func (o scheduleOptions) check() error {
	if _, err := parseSchedule(o.Spec); err != nil {
		return asConfigError(err)
	}
	if o.RunTimeout <= 0 {
		return asConfigError(fmt.Errorf("RUN_TIMEOUT %s: want more than 0", o.RunTimeout))
	}
	if o.ShutdownGrace < 0 {
		return asConfigError(fmt.Errorf("SHUTDOWN_GRACE %s: want 0 or more", o.ShutdownGrace))
	}
	return nil
}

// parseSchedule parses a five-field cron expression (or a descriptor such as
// @daily), evaluated in UTC unless prefixed with CRON_TZ=Zone or TZ=Zone.
func parseSchedule(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	if !strings.HasPrefix(s, "CRON_TZ=") && !strings.HasPrefix(s, "TZ=") {
		s = "CRON_TZ=UTC " + s
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("SCHEDULE %q: %w", spec, err)
	}
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("SCHEDULE %q: never fires", spec)
	}
	return sched, nil
}

// runSchedule runs job on opts.Spec until ctx is done, one run at a time,
// each under its own RunTimeout. When ctx is done no new run starts; a run
// in progress gets ShutdownGrace to finish and is then cancelled, in which
// case the result is errRunCancelled. Runs' contexts derive from ctx's
// values but not from its cancellation: a signal alone never cuts a run
// short. A run's error or panic is logged; the schedule goes on.
func runSchedule(ctx context.Context, opts scheduleOptions, log zerolog.Logger, job func(context.Context) error) error {
	if err := opts.check(); err != nil {
		return err
	}
	sched, _ := parseSchedule(opts.Spec)

	runBase, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()

	// Cron's own chatter (wake, run, schedule) is debug; what the chain
	// reports (a skipped firing, a panic) is for operators.
	c := cron.New(
		cron.WithLocation(time.UTC),
		cron.WithLogger(cronLogger{log: log, info: zerolog.DebugLevel}),
		// SkipIfStillRunning must be outside Recover: in cron v3.0.1 it hands
		// its token back only when the job returns normally, so a panic
		// escaping into it would skip every later firing.
		cron.WithChain(cron.SkipIfStillRunning(cronLogger{log: log, info: zerolog.WarnLevel}), cron.Recover(cronLogger{log: log, info: zerolog.InfoLevel})),
	)
	var entry cron.EntryID
	var runs atomic.Int64
	var active atomic.Int32 // runs in progress: 0 or 1
	entry = c.Schedule(sched, cron.FuncJob(func() {
		active.Add(1)
		defer active.Add(-1)
		n := runs.Add(1)
		runCtx, cancel := context.WithTimeout(runBase, opts.RunTimeout)
		defer cancel()
		rlog := log.With().Int64("scheduled_run", n).Logger()
		defer func() { // also after a panic, which Recover then logs
			if ctx.Err() == nil {
				rlog.Info().Time("next_run", c.Entry(entry).Next).Msg("next run")
			}
		}()
		rlog.Info().Msg("scheduled run starting")
		err := job(runCtx)
		if err == nil {
			return
		}
		ev := rlog.Error()
		if reported := (*reportedError)(nil); !errors.As(err, &reported) {
			ev = ev.Err(err)
		}
		switch {
		case errors.Is(runCtx.Err(), context.DeadlineExceeded):
			ev.Stringer("run_timeout", opts.RunTimeout).Msg("scheduled run failed: RUN_TIMEOUT exceeded")
		case runBase.Err() != nil:
			ev.Msg("scheduled run failed: cancelled at shutdown")
		default:
			ev.Msg("scheduled run failed")
		}
	}))

	c.Start()
	log.Info().Str("schedule", opts.Spec).Time("next_run", sched.Next(time.Now())).
		Stringer("run_timeout", opts.RunTimeout).Stringer("shutdown_grace", opts.ShutdownGrace).Msg("scheduler started")

	<-ctx.Done()
	stopped := c.Stop()
	if active.Load() > 0 {
		log.Info().Stringer("shutdown_grace", opts.ShutdownGrace).Msg("stopping: no new runs; waiting for the current run to finish")
	}
	grace := time.NewTimer(opts.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-stopped.Done():
		log.Info().Msg("scheduler stopped")
		return nil
	case <-grace.C:
	}
	if active.Load() == 0 { // only a skipped firing was returning
		<-stopped.Done()
		log.Info().Msg("scheduler stopped")
		return nil
	}
	log.Warn().Stringer("shutdown_grace", opts.ShutdownGrace).Msg("SHUTDOWN_GRACE expired: cancelling the current run")
	cancelRuns()
	wait := time.NewTimer(stopWait)
	defer wait.Stop()
	select {
	case <-stopped.Done():
		return fmt.Errorf("schedule: %w", errRunCancelled)
	case <-wait.C:
		return fmt.Errorf("schedule: %w; it had not returned %s after being cancelled", errRunCancelled, stopWait)
	}
}

// cronLogger adapts zerolog to cron.Logger: Info at level info, Error at
// error, with readable messages for the ones operators need.
type cronLogger struct {
	log  zerolog.Logger
	info zerolog.Level
}

var cronMessages = map[string]string{
	"skip":  "scheduled run skipped: the previous run is still going",
	"panic": "scheduled run panicked (recovered; the schedule goes on)",
}

func (l cronLogger) Info(msg string, kv ...any) {
	if m, ok := cronMessages[msg]; ok {
		msg = m
	}
	l.log.WithLevel(l.info).Fields(kvFields(kv)).Msg(msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	if m, ok := cronMessages[msg]; ok {
		msg = m
	}
	l.log.Error().Err(err).Fields(kvFields(kv)).Msg(msg)
}

// kvFields turns cron's alternating keys and values into zerolog fields.
func kvFields(kv []any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}
