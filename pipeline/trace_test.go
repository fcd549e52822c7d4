package pipeline

import (
	"math/big"
	"reflect"
	"testing"
)

// TestComputeTraceMatchesCompute: ComputeTrace's result is Compute's, and
// for every ranked referrer of every pie-split cycle its arithmetic gives
// its award: Quotient = floor(Pool × Weight / W), Remainder = Pool × Weight
// mod W, and Award = Quotient plus the extra unit.
func TestComputeTraceMatchesCompute(t *testing.T) {
	in, set, asOf := genInputs(11, 400), genCycles(), atTime("2026-06-15T00:00:00Z")
	want := computeOK(t, in, set, asOf)
	checked := 0
	for _, refcode := range []string{want.Cycles[0].Leaderboard[0].Refcode, want.Cycles[1].Leaderboard[0].Refcode} {
		got, tr, err := ComputeTrace(in, set, asOf, TraceQuery{Refcode: refcode})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ComputeTrace's result differs from Compute's")
		}
		if tr.Referrer == nil || tr.Referrer.Refcode != refcode || len(tr.Referrer.Cycles) != len(want.Cycles) {
			t.Fatalf("trace of %s: %+v", refcode, tr.Referrer)
		}
		for _, rc := range tr.Referrer.Cycles {
			p := rc.Pie
			if !rc.Ranked || rc.Cycle.Rules.AwardModel != PieSplit {
				if p != nil {
					t.Errorf("%s %s: pie arithmetic %+v for a referrer not ranked in a pie-split cycle", refcode, rc.Cycle.ID, p)
				}
				continue
			}
			if p == nil || p.Award != rc.Entry.Award || p.Qualified != rc.Entry.Qualified {
				t.Fatalf("%s %s: pie %+v, entry %+v", refcode, rc.Cycle.ID, p, rc.Entry)
			}
			if !p.Qualified {
				continue
			}
			w, okW := new(big.Int).SetString(p.Weight, 10)
			total, okT := new(big.Int).SetString(p.TotalWeight, 10)
			rem, okR := new(big.Int).SetString(p.Remainder, 10)
			if !okW || !okT || !okR || total.Sign() <= 0 {
				t.Fatalf("%s %s: pie %+v", refcode, rc.Cycle.ID, p)
			}
			q, r := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(p.Pool), w), total, new(big.Int))
			extra := int64(0)
			if p.ExtraUnit {
				extra = 1
			}
			if !q.IsInt64() || q.Int64() != p.Quotient || r.Cmp(rem) != 0 || p.Quotient+extra != p.Award {
				t.Errorf("%s %s: pool %d × %s / %s = %v rem %v; trace says %d rem %s, award %d (extra %v)",
					refcode, rc.Cycle.ID, p.Pool, p.Weight, p.TotalWeight, q, r, p.Quotient, p.Remainder, p.Award, p.ExtraUnit)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no qualified pie-split share was checked")
	}
}
