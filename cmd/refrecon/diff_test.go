package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/cmd/internal/diff"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
)

// Two fixture runs a day apart, then refrecon diff: the defaults compare
// the latest snapshot with the one before; ids and --json in any order;
// the JSON is the same diff as the text; an unknown id exits 1 naming it.
func TestE2EDiffTwoRunsADayApart(t *testing.T) {
	d := newDirs(t)
	first := mustRun(t, d.env(fixtureAsOf))
	second := mustRun(t, d.env("2026-04-16T00:00:00Z"))
	if second.Changes == nil || second.Changes.Old != first.SnapshotID {
		t.Fatalf("the second run's changes %+v, want against %s", second.Changes, first.SnapshotID)
	}
	env := d.env("")

	code, text, stderr := runMainEnv(t, env, "diff")
	stdout := text
	if code != exitOK {
		t.Fatalf("diff: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "diff "+first.SnapshotID) || !strings.Contains(stdout, "-> "+second.SnapshotID) {
		t.Errorf("diff does not name both snapshots:\n%s", stdout)
	}
	if !strings.Contains(stdout, second.Changes.Headline()) {
		t.Errorf("diff does not print the headline the run summary printed (%q):\n%s", second.Changes.Headline(), stdout)
	}

	var got snapdiff.Diff
	for _, args := range [][]string{
		{"diff", first.SnapshotID, second.SnapshotID, "--json"},
		{"diff", "--json", first.SnapshotID},
		{"diff", first.SnapshotID, "--json", second.SnapshotID},
	} {
		code, stdout, stderr = runMainEnv(t, env, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, stdout)
		}
		if got.Old != first.SnapshotID || got.New != second.SnapshotID || got.Empty() {
			t.Errorf("%v: diff %s -> %s with %d cycle changes", args, got.Old, got.New, len(got.Cycles))
		}
	}
	// What the published files say matches what the run computed (the run
	// compares cycles only).
	if !reflect.DeepEqual(got.Cycles, second.Changes.Cycles) {
		t.Errorf("diff from the published files: %+v\nthe run's: %+v", got.Cycles, second.Changes.Cycles)
	}
	var w any = (*sqlitewh.Warehouse)(nil)
	if _, canRead := w.(diff.DecisionReader); got.RowsCompared != canRead {
		t.Errorf("rows compared %t, but the SQLite warehouse can read rows back: %t", got.RowsCompared, canRead)
	}
	// A day later the fixtures' pending conversions leave their hold: rows
	// change eligibility, with the reasons.
	if got.RowsCompared {
		if len(got.Rows) == 0 {
			t.Error("no referral row changed a day later")
		}
		for _, r := range got.Rows {
			if len(r.Cycles) == 0 && r.Outcome.Old == r.Outcome.New {
				t.Errorf("row %+v listed without a change", r)
			}
		}
		if !strings.Contains(text, "referral rows (warehouse): ") {
			t.Errorf("text diff lacks the referral rows:\n%s", text)
		}
	}

	// PUBLIC_DIR as a file:// URL is the same directory, as for run and
	// serve (it was read as a relative path "file:/...").
	if code, url, stderr := runMainEnv(t, d.env("", "PUBLIC_DIR", "file://"+d.Public), "diff"); code != exitOK || url != text {
		t.Errorf("diff with PUBLIC_DIR=file://%s: exit %d, %s\n%s", d.Public, code, stderr, url)
	}
	// The same snapshot twice: nothing changed, still exit 0.
	code, stdout, _ = runMainEnv(t, env, "diff", second.SnapshotID, second.SnapshotID)
	if code != exitOK || !strings.Contains(stdout, "no change since "+second.SnapshotID) {
		t.Errorf("diff of a snapshot with itself: exit %d\n%s", code, stdout)
	}
	// The first snapshot has nothing before it.
	code, _, stderr = runMainEnv(t, env, "diff", "--json", "--", first.SnapshotID)
	if code != exitOK {
		// OLD given, NEW the latest: fine.
		t.Errorf("diff OLD: exit %d: %s", code, stderr)
	}
	missing := "20990101T000000Z-000000000000"
	code, _, stderr = runMainEnv(t, env, "diff", missing)
	if code != exitFailed || !strings.Contains(stderr, missing) {
		t.Errorf("diff of an unknown snapshot: exit %d, stderr %q; want 1 naming it", code, stderr)
	}
	code, _, stderr = runMainEnv(t, env, "diff", "yesterday")
	if code != exitConfig || !strings.Contains(stderr, "yesterday") {
		t.Errorf("diff of a non-id: exit %d, stderr %q; want 2 naming it", code, stderr)
	}
	code, _, _ = runMainEnv(t, env, "diff", "a", "b", "c")
	if code != exitConfig {
		t.Errorf("diff with three ids: exit %d, want 2", code)
	}
}
