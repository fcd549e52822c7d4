package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
)

// publishedEntries returns the leaderboard entries of cycle id in snapshot
// snap of the public tree, page by page, with every page's status and
// settledFrom.
func publishedEntries(t *testing.T, tree map[string][]byte, snap, id string) (entries []json.RawMessage, statuses []string) {
	t.Helper()
	for n := 1; ; n++ {
		b, ok := tree[path.Join("snapshots", snap, "cycles", id, "leaderboard", itoaPage(n)+".json")]
		if !ok {
			if n == 1 {
				t.Fatalf("snapshot %s has no leaderboard of %s", snap, id)
			}
			return entries, statuses
		}
		var p struct {
			Status      string            `json:"status"`
			SettledFrom string            `json:"settledFrom"`
			Entries     []json.RawMessage `json:"entries"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, p.Entries...)
		statuses = append(statuses, p.Status+" "+p.SettledFrom)
	}
}

func itoaPage(n int) string { b, _ := json.Marshal(n); return string(b) }

// cycleSetFile writes the default cycle set with edit applied to its cycles
// and returns its file:// URL.
func cycleSetFile(t *testing.T, dir string, edit func(cycles []map[string]any) []map[string]any) string {
	t.Helper()
	var cycles []map[string]any
	b, err := pipeline.DefaultCycleSet().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cycles); err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(edit(cycles))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "cycles.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

// TestSettledCycleStaysFrozen: a fixture run, cycle-1 settled from it, then
// later runs over changed data and an edited cycle set, then one without
// the cycle: cycle-1 is published as settled every time, and the drift is in
// the warehouse, the CSV and the summary.
func TestSettledCycleStaysFrozen(t *testing.T) {
	w := newSettleWorld(t, false)
	if code, stdout, stderr := w.settle(t, w.env(fixtureAsOf, false), "apply"); code != exitOK {
		t.Fatalf("settle apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	settledTree := readTree(t, w.dirs.Public)
	settledEntries, _ := publishedEntries(t, settledTree, w.snapshot, settleCycle)
	if len(settledEntries) == 0 {
		t.Fatal("the settled leaderboard is empty: nothing to compare")
	}

	// Changed data: a new referrer and a referral of it; the pool of cycle-1
	// doubled in the cycle set; pages of 3.
	execSQLite(t, w.dbPath,
		`INSERT INTO users (email, refcode) VALUES ('newcomer@example.com', 'NEWCOMER')`,
		`INSERT INTO referrals (email, refcode, referred_at) VALUES ('friend-of-newcomer@example.com', 'NEWCOMER', '2025-12-10 10:00:00')`)
	edited := cycleSetFile(t, w.dirs.Root, func(cs []map[string]any) []map[string]any {
		rules := cs[0]["rules"].(map[string]any)
		rules["awardPool"] = map[string]any{"currency": "usd", "amount": "2000000"}
		cs[0]["displayName"] = "Holiday Awards (edited)"
		return cs
	})
	const laterAsOf = "2026-04-16T00:00:00Z"
	code, stdout, stderr := runMainEnv(t, w.env(laterAsOf, false, "CUSTOM_REFERRAL_PROGRAM_CYCLES", edited, "RECORDS_PER_PAGE", "3"), "run")
	if code != exitOK {
		t.Fatalf("later run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("later run:\n%s", stdout)
	later := latestID(t, w.dirs.Public)
	tree := readTree(t, w.dirs.Public)

	entries, statuses := publishedEntries(t, tree, later, settleCycle)
	if len(entries) != len(settledEntries) {
		t.Fatalf("%d entries published later, %d settled", len(entries), len(settledEntries))
	}
	for i := range entries {
		if !bytes.Equal(entries[i], settledEntries[i]) {
			t.Errorf("entry %d: published %s, settled %s", i, entries[i], settledEntries[i])
		}
	}
	if want := (len(entries) + 2) / 3; len(statuses) != want {
		t.Errorf("%d pages at 3 per page, want %d", len(statuses), want)
	}
	for i, s := range statuses {
		if s != "Closed "+w.snapshot {
			t.Errorf("page %d: status and settledFrom %q, want Closed %s", i+1, s, w.snapshot)
		}
	}
	var cycles struct {
		Cycles []struct {
			ID          string          `json:"id"`
			DisplayName string          `json:"displayName"`
			Status      string          `json:"status"`
			SettledFrom string          `json:"settledFrom"`
			Totals      json.RawMessage `json:"totals"`
		} `json:"cycles"`
	}
	decodeJSON(t, tree[path.Join("snapshots", later, "cycles.json")], &cycles)
	var was struct {
		Cycles []struct {
			ID     string          `json:"id"`
			Totals json.RawMessage `json:"totals"`
		} `json:"cycles"`
	}
	decodeJSON(t, settledTree[path.Join("snapshots", w.snapshot, "cycles.json")], &was)
	for _, c := range cycles.Cycles {
		if c.ID != settleCycle {
			if c.SettledFrom != "" {
				t.Errorf("%s is not settled but has settledFrom %s", c.ID, c.SettledFrom)
			}
			continue
		}
		if c.Status != "Closed" || c.SettledFrom != w.snapshot || c.DisplayName != "Holiday Awards" {
			t.Errorf("settled summary: %+v", c)
		}
		for _, o := range was.Cycles {
			if o.ID == c.ID && !bytes.Equal(o.Totals, c.Totals) {
				t.Errorf("totals %s, settled %s", c.Totals, o.Totals)
			}
		}
	}
	// Referrer files: the settled entry; the newcomer unranked.
	for name, b := range tree {
		if !strings.HasPrefix(name, path.Join("snapshots", later, "referrers")+"/") {
			continue
		}
		var rf struct {
			Refcode string                     `json:"refcode"`
			Cycles  map[string]json.RawMessage `json:"cycles"`
		}
		decodeJSON(t, b, &rf)
		old, ok := settledTree[strings.Replace(name, later, w.snapshot, 1)]
		if !ok {
			if rf.Refcode != "NEWCOMER" {
				t.Errorf("%s: no settled referrer file", name)
			}
			var e struct {
				Type string `json:"type"`
				Rank *int   `json:"rank"`
			}
			decodeJSON(t, rf.Cycles[settleCycle], &e)
			if e.Type != "unranked" || e.Rank != nil {
				t.Errorf("new refcode's settled cycle entry: %s", rf.Cycles[settleCycle])
			}
			continue
		}
		var orf struct {
			Cycles map[string]json.RawMessage `json:"cycles"`
		}
		decodeJSON(t, old, &orf)
		if !bytes.Equal(rf.Cycles[settleCycle], orf.Cycles[settleCycle]) {
			t.Errorf("%s: %s, settled %s", name, rf.Cycles[settleCycle], orf.Cycles[settleCycle])
		}
	}

	// The current numbers, privately: the doubled pool doubles every award,
	// so every settled referrer's drift is negative.
	wh := openDB(t, w.dirs.Warehouse)
	var rows, drifting int
	var settledSum, awardSum int64
	if err := wh.QueryRow(`SELECT COUNT(*), COALESCE(SUM(award_drift != 0), 0), COALESCE(SUM(settled_award), 0), COALESCE(SUM(award), 0)
		FROM leaderboard_entries WHERE snapshot_id = ? AND cycle_id = ? AND settled_from = ?`, later, settleCycle, w.snapshot).Scan(&rows, &drifting, &settledSum, &awardSum); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || drifting == 0 || settledSum != 1_000_000 || awardSum != 2_000_000 {
		t.Errorf("warehouse: %d settled rows, %d drifting, settled %d, current %d; want settled 1000000, current 2000000", rows, drifting, settledSum, awardSum)
	}
	recs := readCSV(t, filepath.Join(w.dirs.Private, settleCycle+".csv"))
	col := func(name string) int { return slices.Index(recs[0], name) }
	total := recs[len(recs)-1]
	if total[col("record_type")] != "total" || total[col("settled_from")] != w.snapshot ||
		total[col("settled_award_minor")] != "1000000" || total[col("award_drift_minor")] != "-1000000" {
		t.Errorf("CSV total line: settled_from %q settled %q drift %q", total[col("settled_from")], total[col("settled_award_minor")], total[col("award_drift_minor")])
	}
	if !strings.Contains(stdout, "settled cycle-1 from "+w.snapshot) || !strings.Contains(stdout, "drift USD -10000.00") {
		t.Errorf("summary does not report the drift:\n%s", stdout)
	}

	// The cycle dropped from the set: still published as settled, and every
	// settled award drifts in full (clawback candidates).
	dropped := cycleSetFile(t, w.dirs.Root, func(cs []map[string]any) []map[string]any { return cs[1:] })
	code, stdout, stderr = runMainEnv(t, w.env("2026-04-17T00:00:00Z", false, "CUSTOM_REFERRAL_PROGRAM_CYCLES", dropped), "run")
	if code != exitOK {
		t.Fatalf("run without the cycle: exit %d\n%s\n%s", code, stdout, stderr)
	}
	third := latestID(t, w.dirs.Public)
	tree = readTree(t, w.dirs.Public)
	entries, statuses = publishedEntries(t, tree, third, settleCycle)
	if len(entries) != len(settledEntries) || statuses[0] != "Closed "+w.snapshot {
		t.Errorf("dropped cycle: %d entries (settled %d), first page %q", len(entries), len(settledEntries), statuses[0])
	}
	if !strings.Contains(stdout, "no longer in the cycle set") || !strings.Contains(stdout, "clawback candidate") {
		t.Errorf("summary of the run without the cycle:\n%s", stdout)
	}
	var claw int64
	if err := wh.QueryRow(`SELECT COALESCE(SUM(award_drift), 0) FROM leaderboard_entries WHERE snapshot_id = ? AND cycle_id = ?`, third, settleCycle).Scan(&claw); err != nil {
		t.Fatal(err)
	}
	if claw != 1_000_000 {
		t.Errorf("drift of the dropped cycle in the warehouse: %d, want 1000000", claw)
	}

	// Retention: the settled snapshot outlives KEEP_SNAPSHOTS=1.
	if code, stdout, stderr = runMainEnv(t, w.env("2026-04-18T00:00:00Z", false, "KEEP_SNAPSHOTS", "1"), "run"); code != exitOK {
		t.Fatalf("run with KEEP_SNAPSHOTS=1: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(w.dirs.Public, "snapshots", w.snapshot, "manifest.json")); err != nil {
		t.Errorf("the settled snapshot was pruned: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.dirs.Public, "snapshots", later)); err == nil {
		t.Errorf("snapshot %s (not settled) survived KEEP_SNAPSHOTS=1", later)
	}
}

// TestPublishGuard: a source that lost most of its rows does not publish;
// run --force does, once.
func TestPublishGuard(t *testing.T) {
	w := newSettleWorld(t, false)
	before := readTree(t, w.dirs.Public)
	execSQLite(t, w.dbPath, `DELETE FROM referrals WHERE rowid % 2 = 0`)
	env := w.env("2026-04-16T00:00:00Z", false)
	code, _, stderr := runMainEnv(t, env, "run")
	if code != exitFailed || !strings.Contains(stderr, "publish guard") || !strings.Contains(stderr, "referrals ") || !strings.Contains(stderr, "PUBLISH_GUARD_MAX_DROP") {
		t.Fatalf("truncated source: exit %d, stderr:\n%s", code, stderr)
	}
	if after := readTree(t, w.dirs.Public); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Error("the refused run changed the public dir")
	}
	if code, _, stderr := runMainEnv(t, env, "run", "--force"); code != exitOK {
		t.Fatalf("run --force: exit %d\n%s", code, stderr)
	}
	if latestID(t, w.dirs.Public) == w.snapshot {
		t.Error("run --force did not publish")
	}
	// --force was for that run: the next drop is refused again.
	execSQLite(t, w.dbPath, `DELETE FROM users WHERE rowid % 2 = 0`)
	code, _, stderr = runMainEnv(t, w.env("2026-04-17T00:00:00Z", false), "run")
	if code != exitFailed || !strings.Contains(stderr, "users ") {
		t.Fatalf("the next truncated run: exit %d, stderr:\n%s", code, stderr)
	}
}

func latestID(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		SnapshotID string `json:"snapshotId"`
	}
	decodeJSON(t, b, &l)
	return l.SnapshotID
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %.200s: %v", b, err)
	}
}
