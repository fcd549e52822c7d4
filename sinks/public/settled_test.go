package public_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
)

// entriesOf returns every leaderboard entry of cycle id in snapshot snap of
// tree, in page order, and the pages' status and settledFrom.
func entriesOf(t *testing.T, tree map[string][]byte, snap, id string) (entries []json.RawMessage, status, from []string) {
	t.Helper()
	for n := 1; ; n++ {
		b, ok := tree[filepath.Join("snapshots", snap, "cycles", id, "leaderboard", strconv.Itoa(n)+".json")]
		if !ok {
			if n == 1 {
				t.Fatalf("snapshot %s has no leaderboard of %s", snap, id)
			}
			return
		}
		var p struct {
			Status      string            `json:"status"`
			SettledFrom string            `json:"settledFrom"`
			Entries     []json.RawMessage `json:"entries"`
		}
		decode(t, b, &p)
		entries = append(entries, p.Entries...)
		status, from = append(status, p.Status), append(from, p.SettledFrom)
	}
}

func TestSettledCyclePublishedAsSettled(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const settledID = "20260415T000000Z-00000000000a"
	publish(t, dir, 3, settledID, result(7))

	store := localdir.Open(dir)
	s1, err := public.NewReader(store).Settled(ctx, "cycle-1", settledID)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := public.NewReader(store).Settled(ctx, "cycle-2", settledID)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Awards["r0000"] != 7000 || len(s1.Awards) != 7 {
		t.Errorf("settled awards %v", s1.Awards)
	}

	// A later run: cycle-1 recomputed with other numbers, cycle-2 dropped
	// from the cycle set, a new referrer, another page size.
	later := result(4)
	later.Cycles = later.Cycles[:1]
	for i := range later.Cycles[0].Leaderboard {
		later.Cycles[0].Leaderboard[i].Award += 17
	}
	later.Cycles[0].Status = pipeline.AwardsReview
	later.Referrers = append(later.Referrers, pipeline.User{Email: "new@example.com", Refcode: "zz-new"})
	const laterID = "20260501T000000Z-00000000000b"
	if err := public.New(store, 2).WithSettled(s1, s2).Publish(ctx, info(laterID), later); err != nil {
		t.Fatal(err)
	}
	validate(t, dir)
	tree := readTree(t, dir)

	for _, c := range []string{"cycle-1", "cycle-2"} {
		was, _, _ := entriesOf(t, tree, settledID, c)
		now, status, from := entriesOf(t, tree, laterID, c)
		if len(was) != len(now) {
			t.Fatalf("%s: %d entries settled, %d published later", c, len(was), len(now))
		}
		for i := range was {
			if !bytes.Equal(was[i], now[i]) {
				t.Errorf("%s entry %d: settled %s, later %s", c, i, was[i], now[i])
			}
		}
		for i := range status {
			if status[i] != "Closed" || from[i] != settledID {
				t.Errorf("%s page %d: status %q settledFrom %q", c, i+1, status[i], from[i])
			}
		}
	}
	if n := len(slices.Collect(func(yield func(string) bool) {
		for k := range tree {
			if strings.HasPrefix(k, filepath.Join("snapshots", laterID, "cycles", "cycle-1", "leaderboard")) && !yield(k) {
				return
			}
		}
	})); n != 4 { // 7 entries at 2 per page
		t.Errorf("cycle-1 has %d pages at 2 per page, want 4", n)
	}

	var cycles struct {
		Cycles []map[string]json.RawMessage `json:"cycles"`
	}
	decode(t, tree[filepath.Join("snapshots", laterID, "cycles.json")], &cycles)
	var old struct {
		Cycles []map[string]json.RawMessage `json:"cycles"`
	}
	decode(t, tree[filepath.Join("snapshots", settledID, "cycles.json")], &old)
	if len(cycles.Cycles) != 2 {
		t.Fatalf("cycles.json has %d cycles, want both settled ones", len(cycles.Cycles))
	}
	for i, c := range cycles.Cycles {
		if string(c["status"]) != `"Closed"` || string(c["settledFrom"]) != `"`+settledID+`"` {
			t.Errorf("summary %s: status %s settledFrom %s", c["id"], c["status"], c["settledFrom"])
		}
		for _, k := range []string{"id", "rules", "totals", "awardPoolRemaining", "isFinal", "settlesAt"} {
			if !bytes.Equal(c[k], old.Cycles[i][k]) {
				t.Errorf("summary %s %s: %s, settled %s", c["id"], k, c[k], old.Cycles[i][k])
			}
		}
	}

	// Referrer files: the settled entry, and an unranked one for a refcode
	// new since the settlement.
	var rf, was struct {
		Cycles map[string]json.RawMessage `json:"cycles"`
	}
	decode(t, tree[filepath.Join("snapshots", laterID, "referrers", "r0001.json")], &rf)
	decode(t, tree[filepath.Join("snapshots", settledID, "referrers", "r0001.json")], &was)
	for _, c := range []string{"cycle-1", "cycle-2"} {
		if !bytes.Equal(rf.Cycles[c], was.Cycles[c]) {
			t.Errorf("r0001 %s: %s, settled %s", c, rf.Cycles[c], was.Cycles[c])
		}
	}
	var nf struct {
		Cycles map[string]struct {
			Type string `json:"type"`
			Rank *int   `json:"rank"`
		} `json:"cycles"`
	}
	decode(t, tree[filepath.Join("snapshots", laterID, "referrers", "zz-new.json")], &nf)
	if c, ok := nf.Cycles["cycle-2"]; !ok || c.Type != "unranked" || c.Rank != nil {
		t.Errorf("new refcode in the dropped settled cycle: %+v", nf.Cycles)
	}
}

func TestSettledNeedsTheSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	publish(t, dir, 25, id1, result(2))
	r := public.NewReader(localdir.Open(dir))
	if _, err := r.Settled(ctx, "cycle-9", id1); err == nil || !strings.Contains(err.Error(), "no cycle cycle-9") {
		t.Errorf("missing cycle: %v", err)
	}
	if _, err := r.Settled(ctx, "cycle-1", "20260101T000000Z-000000000000"); err == nil {
		t.Error("a missing snapshot read without error")
	}
}
