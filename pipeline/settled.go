package pipeline

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// SettledCycle is a cycle finance has settled (SPEC 2.8): the snapshot it
// was settled from and the award it settled for each referrer. Settled
// cycles are an input of a run like the cycle set: they are part of the
// snapshot id (NewRunInfo), every later run publishes the cycle as the
// settled snapshot did, and ApplySettled compares the settled awards with
// the ones the current data gives (award drift, SPEC 2.7).
type SettledCycle struct {
	CycleID    string
	SnapshotID string
	Currency   string // the settled cycle's currency
	// Awards is the settled award per refcode; a referrer not in it was
	// settled with an award of 0.
	Awards map[string]int64
}

// SettledResult is what a run found for one settled cycle.
type SettledResult struct {
	CycleID    string
	SnapshotID string
	// InCycleSet says whether the cycle is in the run's cycle set: when it
	// is not (dropped from the set), the current data gives no award and
	// every settled award drifts in full.
	InCycleSet bool
	Currency   string // the settled cycle's currency (the current one's when in the set)
	// Drift has one line per referrer with a settled or a current award
	// (not both 0), refcode order.
	Drift []AwardDrift
	// SettledTotal and CurrentTotal sum the settled and current awards.
	SettledTotal, CurrentTotal int64
}

// AwardDrift is one referrer's award drift in a settled cycle (SPEC 2.7):
// Drift = Settled - Current. A positive drift (paid more than the data now
// gives) is a clawback candidate.
type AwardDrift struct {
	Refcode  string
	Settled  int64
	Current  int64
	Drift    int64
	Clawback bool // Drift > 0
}

// ApplySettled records, in res.Settled, the award drift of every settled
// cycle against the awards res computed from the current data. It changes
// nothing else in res: what is published for a settled cycle is the settled
// snapshot's documents (sinks/public), and the current numbers stay in the
// private outputs. settled is taken in cycle id order; a cycle listed twice
// keeps its first entry.
func ApplySettled(res *Result, settled []SettledCycle) {
	res.Settled = nil
	byID := make(map[string]*CycleResult, len(res.Cycles))
	for i := range res.Cycles {
		byID[res.Cycles[i].Cycle.ID] = &res.Cycles[i]
	}
	sorted := slices.SortedStableFunc(slices.Values(settled), func(a, b SettledCycle) int { return strings.Compare(a.CycleID, b.CycleID) })
	sorted = slices.CompactFunc(sorted, func(a, b SettledCycle) bool { return a.CycleID == b.CycleID })
	for _, s := range sorted {
		sr := SettledResult{CycleID: s.CycleID, SnapshotID: s.SnapshotID, Currency: s.Currency}
		current := map[string]int64{}
		if cr, ok := byID[s.CycleID]; ok {
			sr.InCycleSet, sr.Currency = true, cr.Cycle.Rules.Currency
			for _, e := range cr.Leaderboard {
				if e.Award != 0 {
					current[e.Refcode] += e.Award
				}
			}
		}
		refcodes := map[string]bool{}
		for r, a := range s.Awards {
			if a != 0 {
				refcodes[r] = true
			}
		}
		for r := range current {
			refcodes[r] = true
		}
		for _, r := range slices.Sorted(maps.Keys(refcodes)) {
			d := AwardDrift{Refcode: r, Settled: s.Awards[r], Current: current[r]}
			d.Drift = d.Settled - d.Current
			d.Clawback = d.Drift > 0
			sr.SettledTotal += d.Settled
			sr.CurrentTotal += d.Current
			sr.Drift = append(sr.Drift, d)
		}
		res.Settled = append(res.Settled, sr)
	}
}

// SettledCycle returns the SettledResult of cycle id, or nil when the cycle is
// not settled.
func (r *Result) SettledCycle(id string) *SettledResult {
	i, ok := slices.BinarySearchFunc(r.Settled, id, func(s SettledResult, id string) int { return cmp.Compare(s.CycleID, id) })
	if !ok {
		return nil
	}
	return &r.Settled[i]
}

// DriftOf returns the drift of refcode in settled cycle s and whether s has
// a line for it.
func (s *SettledResult) DriftOf(refcode string) (AwardDrift, bool) {
	i, ok := slices.BinarySearchFunc(s.Drift, refcode, func(d AwardDrift, r string) int { return strings.Compare(d.Refcode, r) })
	if !ok {
		return AwardDrift{Refcode: refcode}, false
	}
	return s.Drift[i], true
}
