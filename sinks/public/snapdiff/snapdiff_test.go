package snapdiff

import (
	"reflect"
	"strings"
	"testing"
)

func snap(id string, entries []Entry, rows []Row) Snapshot {
	return Snapshot{ID: id, HasRows: rows != nil, Rows: rows, Cycles: []Cycle{{ID: "c1", Currency: "usd", Status: "Active",
		Totals: Totals{Pool: 10000, Awarded: 10000}, Entries: entries}}}
}

func TestCompareCyclesAndRows(t *testing.T) {
	old := snap("s1", []Entry{
		{Refcode: "a", Rank: 1, Score: 5, Qualified: true, Award: 6000},
		{Refcode: "b", Rank: 2, Score: 3, Qualified: true, Award: 4000},
		{Refcode: "c", Rank: 3, Score: 1},
		{Refcode: "gone", Rank: 4, Score: 1},
	}, []Row{
		{Email: "x@e.com", Refcode: "a", Outcome: "valid", Conversions: []RowConversion{{CycleID: "c1", Pending: true, Reason: "pending_hold"}}},
		{Email: "y@e.com", Refcode: "b", Outcome: "valid", Conversions: []RowConversion{{CycleID: "c1", RewardEligible: true}}},
		{Email: "z@e.com", Refcode: "b", Outcome: "excluded", Reason: "self_referral"},
	})
	nw := snap("s2", []Entry{
		{Refcode: "a", Rank: 1, Score: 5, Qualified: true, Award: 6000},
		{Refcode: "c", Rank: 2, Score: 4, Qualified: true, Award: 4000},
		{Refcode: "b", Rank: 3, Score: 3},
	}, []Row{
		{Email: "x@e.com", Refcode: "a", Outcome: "valid", Conversions: []RowConversion{{CycleID: "c1", RewardEligible: true}}},
		{Email: "y@e.com", Refcode: "b", Outcome: "valid", Reason: "refunded"},
		{Email: "z@e.com", Refcode: "b", Outcome: "excluded", Reason: "self_referral"},
		{Email: "new@e.com", Refcode: "a", Outcome: "valid", Reason: "no_customer"},
	})
	nw.Cycles[0].Status = "AwardsReview"
	nw.Cycles = append(nw.Cycles, Cycle{ID: "c0", Currency: "jpy", Totals: Totals{Pool: 500}})
	d := Compare(old, nw)
	if len(d.Cycles) != 2 || d.Cycles[0].CycleID != "c0" || !d.Cycles[0].Added {
		t.Fatalf("cycles %+v", d.Cycles)
	}
	c := d.Cycles[1]
	if c.Status == nil || c.Status.Old != "Active" || c.Status.New != "AwardsReview" {
		t.Errorf("status %+v", c.Status)
	}
	if !reflect.DeepEqual(c.Entered, []string{"c"}) || !reflect.DeepEqual(c.Left, []string{"b"}) {
		t.Errorf("entered %v left %v", c.Entered, c.Left)
	}
	var moved []string
	for _, m := range c.Moves {
		moved = append(moved, m.Refcode)
	}
	if !reflect.DeepEqual(moved, []string{"c", "b", "gone"}) {
		t.Errorf("moves %v", moved)
	}
	if m := c.Moves[1]; m.OldRank != 2 || m.NewRank != 3 || m.AwardDelta() != -4000 {
		t.Errorf("b's move %+v", m)
	}
	if m := c.Moves[2]; m.NewRank != 0 || m.OldRank != 4 {
		t.Errorf("gone's move %+v", m)
	}
	if !d.RowsCompared || len(d.Rows) != 3 {
		t.Fatalf("rows %+v", d.Rows)
	}
	if r := d.Rows[0]; r.Email != "new@e.com" || !r.Added || r.Outcome.New != "valid/no_customer" {
		t.Errorf("row 0 %+v", r)
	}
	if r := d.Rows[1]; r.Email != "x@e.com" || len(r.Cycles) != 1 || r.Cycles[0].Old != "pending_hold" || r.Cycles[0].New != "eligible" {
		t.Errorf("row 1 %+v", r)
	}
	if r := d.Rows[2]; r.Outcome.Old != "valid" || r.Outcome.New != "valid/refunded" || r.Cycles[0].New != "" {
		t.Errorf("row 2 %+v", r)
	}
	h := d.Headline()
	for _, want := range []string{"since s1:", "c0: new cycle", "c1: Active -> AwardsReview", "1 entered", "3 referral rows changed"} {
		if !strings.Contains(h, want) {
			t.Errorf("headline %q lacks %q", h, want)
		}
	}
}

func TestCompareSameIsEmptyAndRowsNeedBoth(t *testing.T) {
	s := snap("s1", []Entry{{Refcode: "a", Rank: 1, Score: 1, Qualified: true, Award: 10000}}, []Row{{Email: "x", Outcome: "valid"}})
	d := Compare(s, s)
	if !d.Empty() || d.Headline() != "no change since s1" {
		t.Errorf("diff of a snapshot with itself: %+v %q", d, d.Headline())
	}
	noRows := s
	noRows.HasRows, noRows.Rows = false, nil
	if d := Compare(noRows, s); d.RowsCompared {
		t.Error("rows compared without the old snapshot's rows")
	}
}
