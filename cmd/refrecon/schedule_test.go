package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
)

// Inside a synctest bubble the clock starts at 2000-01-01 00:00:00 UTC and
// only moves when every goroutine is blocked: cron's timers, the jobs'
// sleeps and the grace period all run in fake time.
var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// logBuffer collects log lines written from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records whose msg is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if r["message"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// checkOne checks that the log has exactly one record with message msg.
func (b *logBuffer) checkOne(t *testing.T, msg string) {
	t.Helper()
	if n := len(b.records(t, msg)); n != 1 {
		t.Errorf("%d %q records, want 1", n, msg)
	}
}

// jobRecorder is a job that records when each run started and ended, and
// how its context looked at the end.
type jobRecorder struct {
	mu     sync.Mutex
	starts []time.Time
	ends   []time.Time
	errs   []error // each run's ctx.Err() when it ended
	body   func(ctx context.Context, n int) error
}

func (j *jobRecorder) run(ctx context.Context) error {
	j.mu.Lock()
	j.starts = append(j.starts, time.Now())
	n := len(j.starts)
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.ends = append(j.ends, time.Now())
		j.errs = append(j.errs, ctx.Err())
		j.mu.Unlock()
	}()
	if j.body == nil {
		return nil
	}
	return j.body(ctx, n)
}

// checkEndedOnce checks that the job ran once and ended at end with its
// context ended by cause (context.Canceled, context.DeadlineExceeded).
func (j *jobRecorder) checkEndedOnce(t *testing.T, end time.Time, cause error) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.ends) != 1 || !j.ends[0].Equal(end) || !errors.Is(j.errs[0], cause) {
		t.Errorf("run ended %v with %v, want once at %v with %v", j.ends, j.errs, end, cause)
	}
}

// untilCancelled is a job body that runs until its context ends.
func untilCancelled(ctx context.Context, _ int) error {
	<-ctx.Done()
	return ctx.Err()
}

// sleeping is a job body that takes d and succeeds.
func sleeping(d time.Duration) func(context.Context, int) error {
	return func(context.Context, int) error {
		time.Sleep(d)
		return nil
	}
}

// startSchedule runs runSchedule in the bubble; stop cancels its context
// (the SIGTERM) and returns its result.
func startSchedule(opts scheduleOptions, job func(context.Context) error) (stop func() error, logs *logBuffer) {
	logs = &logBuffer{}
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runSchedule(ctx, opts, log, job) }()
	return func() error { cancel(); return <-done }, logs
}

// scheduleFor runs the schedule with job for d of the bubble's time, then
// stops it as SIGTERM would, failing t unless it returns nil.
func scheduleFor(t *testing.T, opts scheduleOptions, job func(context.Context) error, d time.Duration) *logBuffer {
	t.Helper()
	stop, logs := startSchedule(opts, job)
	time.Sleep(d)
	if err := stop(); err != nil {
		t.Fatalf("schedule returned %v", err)
	}
	return logs
}

func defaults(spec string) scheduleOptions {
	return scheduleOptions{Spec: spec, RunTimeout: time.Hour, ShutdownGrace: 5 * time.Minute}
}

func at(minutes, seconds int) time.Time {
	return bubbleStart.Add(time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second)
}

func timeField(t *testing.T, r map[string]any, key string) time.Time {
	t.Helper()
	s, _ := r[key].(string)
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("record %v: field %s: %v", r, key, err)
	}
	return v
}

func TestScheduleFiresEveryMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var job jobRecorder
		logs := scheduleFor(t, defaults("* * * * *"), job.run, 5*time.Minute+30*time.Second)
		want := []time.Time{at(1, 0), at(2, 0), at(3, 0), at(4, 0), at(5, 0)}
		if !equalTimes(job.starts, want) {
			t.Errorf("runs started at %v, want %v", job.starts, want)
		}
		started := logs.records(t, "scheduler started")
		if len(started) != 1 || !timeField(t, started[0], "next_run").Equal(at(1, 0)) {
			t.Errorf("scheduler started records %v, want one with next_run %v", started, at(1, 0))
		}
		next := logs.records(t, "next run")
		if len(next) != 5 {
			t.Fatalf("%d next-run records, want 5", len(next))
		}
		for i, r := range next {
			if got := timeField(t, r, "next_run"); !got.Equal(want[i].Add(time.Minute)) {
				t.Errorf("after run %d: next_run %v, want %v", i+1, got, want[i].Add(time.Minute))
			}
		}
		logs.checkOne(t, "scheduler stopped")
	})
}

func TestScheduleSkipsOverlappingRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		job := jobRecorder{body: sleeping(90 * time.Second)}
		logs := scheduleFor(t, defaults("* * * * *"), job.run, 3*time.Minute+30*time.Second) // mid-way through the run started at 3:00
		if got := time.Now(); !got.Equal(at(4, 30)) {
			t.Errorf("schedule returned at %v, want %v (when the run in progress ended)", got, at(4, 30))
		}
		if want := []time.Time{at(1, 0), at(3, 0)}; !equalTimes(job.starts, want) {
			t.Errorf("runs started at %v, want %v (2:00 skipped)", job.starts, want)
		}
		skips := logs.records(t, "scheduled run skipped: the previous run is still going")
		if len(skips) != 1 || skips[0]["level"] != "warn" {
			t.Errorf("skip records %v, want one at warn", skips)
		}
	})
}

func TestSchedulePanicIsRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		job := jobRecorder{body: func(ctx context.Context, n int) error {
			if n == 1 {
				panic("boom")
			}
			return nil
		}}
		logs := scheduleFor(t, defaults("* * * * *"), job.run, 3*time.Minute+30*time.Second)
		if len(job.starts) != 3 {
			t.Errorf("%d runs, want 3: the runs after a panic must still happen", len(job.starts))
		}
		p := logs.records(t, "scheduled run panicked (recovered; the schedule goes on)")
		if len(p) != 1 || p[0]["level"] != "error" || p[0]["error"] != "boom" || !strings.Contains(p[0]["stack"].(string), "goroutine") {
			t.Errorf("panic records %v", p)
		}
		if n := len(logs.records(t, "scheduled run skipped: the previous run is still going")); n != 0 {
			t.Errorf("%d skips after a panic, want 0", n)
		}
	})
}

func TestScheduleJobErrorIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		job := jobRecorder{body: func(ctx context.Context, n int) error { return errors.New("stripe: 500") }}
		stop, logs := startSchedule(defaults("* * * * *"), job.run)
		time.Sleep(2*time.Minute + 30*time.Second)
		if err := stop(); err != nil {
			t.Fatalf("schedule returned %v: a run's failure must not stop the schedule", err)
		}
		f := logs.records(t, "scheduled run failed")
		if len(f) != 2 || f[0]["error"] != "stripe: 500" || f[1]["scheduled_run"] != 2.0 {
			t.Errorf("failure records %v", f)
		}
	})
}

func TestScheduleReportedErrorNotLoggedTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		job := jobRecorder{body: func(ctx context.Context, n int) error {
			return &reportedError{err: errors.New("already in the run finished record")}
		}}
		logs := scheduleFor(t, defaults("* * * * *"), job.run, 90*time.Second)
		f := logs.records(t, "scheduled run failed")
		if len(f) != 1 || f[0]["error"] != nil || f[0]["level"] != "error" {
			t.Errorf("failure records %v, want one at error level without the error repeated", f)
		}
	})
}

// TestScheduledRunEmitsRunFinished runs the production job once on the
// embedded fixtures: the run's one-line record must be there, as for
// "refrecon run".
func TestScheduledRunEmitsRunFinished(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"PUBLIC_DIR":  dir + "/public",
		"PRIVATE_DIR": dir + "/private",
		"WAREHOUSE":   "none",
		"AS_OF":       "2026-04-15T00:00:00Z", // a fixed asOf keeps the test's snapshot id stable
	}
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	if err := scheduledRun(cfg, zerolog.New(logs))(context.Background()); err != nil {
		t.Fatalf("scheduled run: %v", err)
	}
	r := logs.records(t, "run finished")
	if len(r) != 1 || r[0]["status"] != "ok" || r[0]["snapshot_id"] == "" || r[0]["run_id"] == "" {
		t.Fatalf("run finished records %v, want one ok record with run and snapshot ids", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "public", "latest.json")); err != nil {
		t.Errorf("no snapshot published: %v", err)
	}

	// A failing run comes back marked as reported (its record has the error).
	cfg.ReferralsSource = "sqlite:" + filepath.Join(dir, "missing.sqlite")
	err = scheduledRun(cfg, zerolog.New(logs))(context.Background())
	var rep *reportedError
	if !errors.As(err, &rep) {
		t.Fatalf("failing run: got %v, want a reportedError", err)
	}
	if r := logs.records(t, "run finished"); len(r) != 2 || r[1]["status"] != "failed" || r[1]["error"] == nil {
		t.Errorf("run finished records %v, want a second, failed one with the error", r)
	}
}

func TestScheduleShutdownLetsRunFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		job := jobRecorder{body: sleeping(2 * time.Minute)}
		logs := scheduleFor(t, defaults("* * * * *"), job.run, 90*time.Second) // SIGTERM mid-run
		if got := time.Now(); !got.Equal(at(3, 0)) {
			t.Errorf("returned at %v, want %v", got, at(3, 0))
		}
		if len(job.starts) != 1 || job.errs[0] != nil {
			t.Errorf("runs %v, ctx errors %v: want one run, never cancelled", job.starts, job.errs)
		}
		logs.checkOne(t, "stopping: no new runs; waiting for the current run to finish")
	})
}

func TestScheduleShutdownCancelsAfterGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		job := jobRecorder{body: untilCancelled}
		opts := defaults("* * * * *")
		opts.ShutdownGrace = time.Minute
		stop, logs := startSchedule(opts, job.run)
		time.Sleep(90 * time.Second)
		err := stop()
		if !errors.Is(err, errRunCancelled) {
			t.Fatalf("schedule returned %v, want errRunCancelled", err)
		}
		if got := time.Now(); !got.Equal(at(2, 30)) {
			t.Errorf("returned at %v, want %v (SIGTERM + grace)", got, at(2, 30))
		}
		job.checkEndedOnce(t, at(2, 30), context.Canceled)
		logs.checkOne(t, "scheduled run failed: cancelled at shutdown")
	})
}

func TestScheduleRunTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		job := jobRecorder{body: untilCancelled}
		opts := defaults("*/30 * * * *")
		opts.RunTimeout = 10 * time.Minute
		logs := scheduleFor(t, opts, job.run, 45*time.Minute)
		job.checkEndedOnce(t, at(40, 0), context.DeadlineExceeded)
		logs.checkOne(t, "scheduled run failed: RUN_TIMEOUT exceeded")
	})
}

func TestScheduleCronTZ(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var job jobRecorder
		// 04:00 in New York on 2000-01-01 (EST, UTC-5) is 09:00 UTC.
		logs := scheduleFor(t, defaults("CRON_TZ=America/New_York 0 4 * * *"), job.run, 10*time.Hour)
		if want := []time.Time{at(9*60, 0)}; !equalTimes(job.starts, want) {
			t.Errorf("runs at %v, want %v", job.starts, want)
		}
		if r := logs.records(t, "scheduler started"); len(r) != 1 || !timeField(t, r[0], "next_run").Equal(at(9*60, 0)) {
			t.Errorf("scheduler started %v", r)
		}
	})
}

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		spec string
		want time.Time
	}{
		{"0 4 * * *", time.Date(2026, 7, 2, 4, 0, 0, 0, time.UTC)}, // UTC whatever TZ the process has
		{"CRON_TZ=Europe/Berlin 0 4 * * *", time.Date(2026, 7, 2, 2, 0, 0, 0, time.UTC)},
		{"TZ=Asia/Tokyo 0 4 * * *", time.Date(2026, 7, 1, 19, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)},
		{"  */15 * * * *  ", time.Date(2026, 7, 1, 12, 15, 0, 0, time.UTC)},
	} {
		s, err := parseSchedule(tc.spec)
		if err != nil {
			t.Errorf("parseSchedule(%q): %v", tc.spec, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tc.want) {
			t.Errorf("parseSchedule(%q).Next(%v) = %v, want %v", tc.spec, from, got, tc.want)
		}
	}
	for _, spec := range []string{"", "bogus", "0 4 * *", "0 4 * * * *", "61 * * * *", "CRON_TZ=Mars/Olympus 0 4 * * *", "0 0 31 2 *"} {
		if _, err := parseSchedule(spec); err == nil {
			t.Errorf("parseSchedule(%q): no error", spec)
		}
	}
}

func TestRunScheduleConfigErrors(t *testing.T) {
	for name, opts := range map[string]scheduleOptions{
		"bad spec":       {Spec: "bogus", RunTimeout: time.Hour},
		"zero timeout":   {Spec: "@daily"},
		"negative grace": {Spec: "@daily", RunTimeout: time.Hour, ShutdownGrace: -time.Second},
	} {
		err := runSchedule(context.Background(), opts, zerolog.Nop(), func(context.Context) error { return nil })
		var ce *configError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a configuration error", name, err)
		}
	}
}

func TestScheduleCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"schedule", "--help"}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "Usage: refrecon schedule") {
		t.Errorf("schedule --help: exit %d, stdout %q", code, out.String())
	}
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"extra argument":  {args: []string{"now"}},
		"unknown flag":    {args: []string{"--once"}},
		"bad SCHEDULE":    {env: map[string]string{"SCHEDULE": "every day"}},
		"AS_OF":           {env: map[string]string{"AS_OF": "2026-04-15T00:00:00Z"}},
		"bad RUN_TIMEOUT": {env: map[string]string{"RUN_TIMEOUT": "0s"}},
		"bad RECORDS_PER_PAGE (checked at start)": {env: map[string]string{"RECORDS_PER_PAGE": "0"}},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out.Reset()
			errOut.Reset()
			if code := runMain(context.Background(), append([]string{"schedule"}, tc.args...), &out, &errOut); code != exitConfig {
				t.Errorf("exit %d, want %d; stderr %q", code, exitConfig, errOut.String())
			}
		})
	}
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
