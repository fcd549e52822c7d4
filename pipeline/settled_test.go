package pipeline

import (
	"reflect"
	"testing"
)

func TestApplySettled(t *testing.T) {
	res := &Result{Cycles: []CycleResult{
		{Cycle: Cycle{ID: "b", Rules: Rules{Currency: "usd"}}, Leaderboard: []Entry{
			{Rank: 1, Refcode: "X", Award: 700}, {Rank: 2, Refcode: "Y", Award: 300}, {Rank: 3, Refcode: "Z"},
		}},
	}}
	ApplySettled(res, []SettledCycle{
		{CycleID: "gone", SnapshotID: "s1", Currency: "eur", Awards: map[string]int64{"X": 50}},
		{CycleID: "b", SnapshotID: "s2", Awards: map[string]int64{"X": 600, "W": 400}},
	})
	want := []SettledResult{
		{CycleID: "b", SnapshotID: "s2", InCycleSet: true, Currency: "usd", SettledTotal: 1000, CurrentTotal: 1000, Drift: []AwardDrift{
			{Refcode: "W", Settled: 400, Drift: 400, Clawback: true},
			{Refcode: "X", Settled: 600, Current: 700, Drift: -100},
			{Refcode: "Y", Current: 300, Drift: -300},
		}},
		{CycleID: "gone", SnapshotID: "s1", Currency: "eur", SettledTotal: 50, Drift: []AwardDrift{{Refcode: "X", Settled: 50, Drift: 50, Clawback: true}}},
	}
	if !reflect.DeepEqual(res.Settled, want) {
		t.Fatalf("got %+v\nwant %+v", res.Settled, want)
	}
	if s := res.SettledCycle("b"); s == nil || s.SnapshotID != "s2" {
		t.Errorf("SettledCycle(b) = %+v", s)
	}
	if res.SettledCycle("a") != nil {
		t.Error("SettledCycle(a) found a cycle that is not settled")
	}
	if d, ok := res.SettledCycle("b").DriftOf("Y"); !ok || d.Drift != -300 {
		t.Errorf("DriftOf(Y) = %+v, %v", d, ok)
	}
	if _, ok := res.SettledCycle("b").DriftOf("Z"); ok {
		t.Error("Z has neither a settled nor a current award but has a drift line")
	}
}
