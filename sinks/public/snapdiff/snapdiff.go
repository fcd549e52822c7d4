// Package snapdiff compares two snapshots: what changed between two runs,
// for finance (SPEC 4, `refrecon diff`; the run summary's headline; the
// "changes" sheet of the workbook and section of the HTML report).
//
// It is a pure comparison over a small model of a snapshot (Snapshot): the
// published per-cycle summaries and ranked leaderboard entries, plus, when
// the warehouse holds them, the per-referral-row decisions. Adapters fill the
// model: FromResult from a run's pipeline.Result (the snapshot being
// written), and the diff command from published documents and warehouse
// rows. The package lives under sinks/public because what it compares is the
// published snapshot, and outside cmd/internal because the workbook and HTML
// report sinks render its result.
package snapdiff

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// Snapshot is what Compare reads of one snapshot.
type Snapshot struct {
	ID     string
	AsOf   time.Time
	Cycles []Cycle
	// Rows are the referral rows' decisions; HasRows says whether they are
	// known (the warehouse holds the snapshot). Rows are compared only when
	// both snapshots have them.
	Rows    []Row
	HasRows bool
}

// Cycle is one cycle's published summary and ranked leaderboard.
type Cycle struct {
	ID       string
	Currency string
	Status   string
	IsFinal  bool
	Totals   Totals
	Entries  []Entry // ranked entries, any order
}

// Totals are a cycle's published control totals, money in minor units.
type Totals struct {
	Pool               int64 `json:"pool"`
	Awarded            int64 `json:"awarded"`
	Remaining          int64 `json:"remaining"`
	Referrals          int64 `json:"referrals"`
	Conversions        int64 `json:"conversions"`
	PendingConversions int64 `json:"pendingConversions"`
	Revenue            int64 `json:"revenue"`
	PendingRevenue     int64 `json:"pendingRevenue"`
	RankedReferrers    int64 `json:"rankedReferrers"`
	QualifiedReferrers int64 `json:"qualifiedReferrers"`
}

// Entry is one ranked referrer of a cycle.
type Entry struct {
	Refcode   string
	Rank      int
	Score     int64
	Qualified bool
	Award     int64
}

// Row is one referrals row's decision (warehouse referral_decisions).
type Row struct {
	Email       string // the raw referee email: the referrals table's key
	Refcode     string
	Outcome     string
	Reason      string
	Conversions []RowConversion
}

// RowConversion is a row's conversion in one cycle.
type RowConversion struct {
	CycleID        string
	Pending        bool
	RewardEligible bool
	Reason         string
}

// FromResult is the snapshot a run computed.
func FromResult(info pipeline.RunInfo, res *pipeline.Result) Snapshot {
	s := Snapshot{ID: info.SnapshotID, AsOf: res.AsOf, HasRows: true}
	for _, cr := range res.Cycles {
		c := Cycle{ID: cr.Cycle.ID, Currency: cr.Cycle.Rules.Currency, Status: string(cr.Status), IsFinal: cr.IsFinal,
			Totals: Totals{Pool: cr.Cycle.Rules.AwardPool.Amount, Awarded: cr.Totals.Awarded, Remaining: cr.AwardPoolRemaining,
				Referrals: cr.Totals.Referrals, Conversions: cr.Totals.Conversions, PendingConversions: cr.Totals.PendingConversions,
				Revenue: cr.Totals.Revenue, PendingRevenue: cr.Totals.PendingRevenue,
				RankedReferrers: cr.Totals.RankedReferrers, QualifiedReferrers: cr.Totals.QualifiedReferrers}}
		c.Entries = make([]Entry, len(cr.Leaderboard))
		for i, e := range cr.Leaderboard {
			c.Entries[i] = Entry{Refcode: e.Refcode, Rank: e.Rank, Score: e.Score, Qualified: e.Qualified, Award: e.Award}
		}
		s.Cycles = append(s.Cycles, c)
	}
	s.Rows = make([]Row, len(res.Decisions))
	for i, d := range res.Decisions {
		r := Row{Email: d.Row.Email, Refcode: d.Row.Refcode, Outcome: string(d.Outcome), Reason: d.Reason}
		for _, cv := range d.Conversions {
			r.Conversions = append(r.Conversions, RowConversion{CycleID: cv.CycleID, Pending: cv.Pending,
				RewardEligible: cv.RewardEligible, Reason: cv.Reason})
		}
		s.Rows[i] = r
	}
	return s
}

// Diff is what changed from Old to New.
type Diff struct {
	Old     string      `json:"old"`
	New     string      `json:"new"`
	OldAsOf time.Time   `json:"oldAsOf"`
	NewAsOf time.Time   `json:"newAsOf"`
	Cycles  []CycleDiff `json:"cycles"` // cycles with a change, id order
	// RowsCompared says whether referral rows were compared (both snapshots
	// in the warehouse); Rows are the rows that changed, email order.
	RowsCompared bool        `json:"rowsCompared"`
	Rows         []RowChange `json:"rows"`
}

// CycleDiff is what changed in one cycle.
type CycleDiff struct {
	CycleID  string `json:"cycleId"`
	Currency string `json:"currency"`
	Added    bool   `json:"added,omitempty"`   // only in New
	Removed  bool   `json:"removed,omitempty"` // only in Old
	// Status and IsFinal are set when they changed.
	Status  *Change[string] `json:"status,omitempty"`
	IsFinal *Change[bool]   `json:"isFinal,omitempty"`
	Totals  []TotalChange   `json:"totals,omitempty"`
	// Entered and Left are the referrers entering and leaving the
	// qualified set; Moves every ranked referrer whose rank, score,
	// qualification or award changed (those entering or leaving too),
	// in the new rank order, then those that left the leaderboard.
	Entered []string      `json:"entered,omitempty"`
	Left    []string      `json:"left,omitempty"`
	Moves   []EntryChange `json:"moves,omitempty"`
}

// Change is an old and a new value.
type Change[T any] struct {
	Old T `json:"old"`
	New T `json:"new"`
}

// TotalChange is one control total that changed. Money is in minor units
// of the cycle's currency.
type TotalChange struct {
	Field string `json:"field"`
	Money bool   `json:"money"`
	Old   int64  `json:"old"`
	New   int64  `json:"new"`
}

// Delta is New - Old.
func (t TotalChange) Delta() int64 { return t.New - t.Old }

// EntryChange is one referrer's change in a cycle's leaderboard. Rank 0 is
// "not ranked" (not on that snapshot's leaderboard).
type EntryChange struct {
	Refcode      string `json:"refcode"`
	OldRank      int    `json:"oldRank"`
	NewRank      int    `json:"newRank"`
	OldScore     int64  `json:"oldScore"`
	NewScore     int64  `json:"newScore"`
	OldQualified bool   `json:"oldQualified"`
	NewQualified bool   `json:"newQualified"`
	OldAward     int64  `json:"oldAward"`
	NewAward     int64  `json:"newAward"`
}

// AwardDelta is NewAward - OldAward.
func (e EntryChange) AwardDelta() int64 { return e.NewAward - e.OldAward }

// RowChange is one referrals row whose outcome, reason or per-cycle
// eligibility changed. Old is zero when the row is new, New when it is gone.
type RowChange struct {
	Email   string           `json:"email"`
	Refcode string           `json:"refcode"`
	Added   bool             `json:"added,omitempty"`
	Removed bool             `json:"removed,omitempty"`
	Outcome Change[string]   `json:"outcome"` // "outcome/reason"
	Cycles  []RowCycleChange `json:"cycles,omitempty"`
}

// RowCycleChange is a row's eligibility in one cycle before and after:
// "eligible", "pending_hold" (a reason), or "" (does not convert there).
type RowCycleChange struct {
	CycleID string `json:"cycleId"`
	Old     string `json:"old"`
	New     string `json:"new"`
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool { return len(d.Cycles) == 0 && len(d.Rows) == 0 }

// Compare returns what changed from old to new.
func Compare(old, new Snapshot) *Diff {
	d := &Diff{Old: old.ID, New: new.ID, OldAsOf: old.AsOf, NewAsOf: new.AsOf}
	oc := indexCycles(old.Cycles)
	nc := indexCycles(new.Cycles)
	for _, id := range unionKeys(oc, nc) {
		o, inOld := oc[id]
		n, inNew := nc[id]
		cd := compareCycle(o, n, inOld, inNew)
		cd.CycleID = id
		if cd.changed() {
			d.Cycles = append(d.Cycles, cd)
		}
	}
	if old.HasRows && new.HasRows {
		d.RowsCompared = true
		d.Rows = compareRows(old.Rows, new.Rows)
	}
	return d
}

// unionKeys returns the keys of a and b, each once, sorted.
func unionKeys[M ~map[string]V, V any](a, b M) []string {
	keys := slices.AppendSeq(slices.Collect(maps.Keys(a)), maps.Keys(b))
	slices.Sort(keys)
	return slices.Compact(keys)
}

func indexCycles(cs []Cycle) map[string]*Cycle {
	m := make(map[string]*Cycle, len(cs))
	for i := range cs {
		m[cs[i].ID] = &cs[i]
	}
	return m
}

func (c *CycleDiff) changed() bool {
	return c.Added || c.Removed || c.Status != nil || c.IsFinal != nil || len(c.Totals) > 0 || len(c.Moves) > 0
}

func compareCycle(o, n *Cycle, inOld, inNew bool) CycleDiff {
	var cd CycleDiff
	var zero Cycle
	switch {
	case !inOld:
		cd.Added, o = true, &zero
	case !inNew:
		cd.Removed, n = true, &zero
	}
	cd.Currency = cmp.Or(n.Currency, o.Currency)
	if inOld && inNew {
		if o.Status != n.Status {
			cd.Status = &Change[string]{o.Status, n.Status}
		}
		if o.IsFinal != n.IsFinal {
			cd.IsFinal = &Change[bool]{o.IsFinal, n.IsFinal}
		}
	}
	for _, f := range totalFields {
		ov, nv := f.get(&o.Totals), f.get(&n.Totals)
		if ov != nv {
			cd.Totals = append(cd.Totals, TotalChange{Field: f.name, Money: f.money, Old: ov, New: nv})
		}
	}
	oe := make(map[string]Entry, len(o.Entries))
	for _, e := range o.Entries {
		oe[e.Refcode] = e
	}
	ne := slices.Clone(n.Entries)
	slices.SortFunc(ne, byRank)
	seen := make(map[string]bool, len(ne))
	for _, e := range ne {
		seen[e.Refcode] = true
		p := oe[e.Refcode] // zero when not ranked before
		if p.Rank != e.Rank || p.Score != e.Score || p.Qualified != e.Qualified || p.Award != e.Award {
			cd.Moves = append(cd.Moves, entryChange(p, e, e.Refcode))
		}
	}
	gone := make([]Entry, 0)
	for _, e := range o.Entries {
		if !seen[e.Refcode] {
			gone = append(gone, e)
		}
	}
	slices.SortFunc(gone, byRank)
	for _, e := range gone {
		cd.Moves = append(cd.Moves, entryChange(e, Entry{}, e.Refcode))
	}
	for _, m := range cd.Moves {
		switch {
		case !m.OldQualified && m.NewQualified:
			cd.Entered = append(cd.Entered, m.Refcode)
		case m.OldQualified && !m.NewQualified:
			cd.Left = append(cd.Left, m.Refcode)
		}
	}
	return cd
}

// byRank orders entries by rank, then refcode.
func byRank(a, b Entry) int {
	return cmp.Or(cmp.Compare(a.Rank, b.Rank), strings.Compare(a.Refcode, b.Refcode))
}

func entryChange(o, n Entry, refcode string) EntryChange {
	return EntryChange{Refcode: refcode, OldRank: o.Rank, NewRank: n.Rank, OldScore: o.Score, NewScore: n.Score,
		OldQualified: o.Qualified, NewQualified: n.Qualified, OldAward: o.Award, NewAward: n.Award}
}

var totalFields = []struct {
	name  string
	money bool
	get   func(*Totals) int64
}{
	{"pool", true, func(t *Totals) int64 { return t.Pool }},
	{"awarded", true, func(t *Totals) int64 { return t.Awarded }},
	{"remaining", true, func(t *Totals) int64 { return t.Remaining }},
	{"referrals", false, func(t *Totals) int64 { return t.Referrals }},
	{"conversions", false, func(t *Totals) int64 { return t.Conversions }},
	{"pendingConversions", false, func(t *Totals) int64 { return t.PendingConversions }},
	{"revenue", true, func(t *Totals) int64 { return t.Revenue }},
	{"pendingRevenue", true, func(t *Totals) int64 { return t.PendingRevenue }},
	{"rankedReferrers", false, func(t *Totals) int64 { return t.RankedReferrers }},
	{"qualifiedReferrers", false, func(t *Totals) int64 { return t.QualifiedReferrers }},
}

// rowKeys keys each row by its raw email (the referrals table's primary key);
// should a source hold the same email twice, the n-th occurrence in
// (refcode) order pairs with the n-th.
func rowKeys(rows []Row) map[string]*Row {
	sorted := make([]*Row, len(rows))
	for i := range rows {
		sorted[i] = &rows[i]
	}
	slices.SortStableFunc(sorted, func(a, b *Row) int {
		return cmp.Or(strings.Compare(a.Email, b.Email), strings.Compare(a.Refcode, b.Refcode))
	})
	m := make(map[string]*Row, len(rows))
	n := 0
	for i, r := range sorted {
		if i > 0 && sorted[i-1].Email == r.Email {
			n++
		} else {
			n = 0
		}
		k := r.Email
		if n > 0 {
			k += "\x00" + strconv.Itoa(n)
		}
		m[k] = r
	}
	return m
}

func compareRows(old, new []Row) []RowChange {
	om, nm := rowKeys(old), rowKeys(new)
	var out []RowChange
	for _, k := range unionKeys(om, nm) {
		o, n := om[k], nm[k]
		rc := RowChange{Added: o == nil, Removed: n == nil}
		var zero Row
		if o == nil {
			o = &zero
		}
		if n == nil {
			n = &zero
		}
		rc.Email, rc.Refcode = cmp.Or(n.Email, o.Email), cmp.Or(n.Refcode, o.Refcode)
		rc.Outcome = Change[string]{outcome(o), outcome(n)}
		oc, nc := conversions(o), conversions(n)
		for _, c := range unionKeys(oc, nc) {
			if oc[c] != nc[c] {
				rc.Cycles = append(rc.Cycles, RowCycleChange{CycleID: c, Old: oc[c], New: nc[c]})
			}
		}
		if rc.Added || rc.Removed || rc.Outcome.Old != rc.Outcome.New || len(rc.Cycles) > 0 {
			out = append(out, rc)
		}
	}
	return out
}

func outcome(r *Row) string {
	if r.Outcome == "" {
		return ""
	}
	if r.Reason == "" {
		return r.Outcome
	}
	return r.Outcome + "/" + r.Reason
}

func conversions(r *Row) map[string]string {
	m := make(map[string]string, len(r.Conversions))
	for _, c := range r.Conversions {
		if c.RewardEligible {
			m[c.CycleID] = "eligible"
		} else {
			m[c.CycleID] = cmp.Or(c.Reason, "not_eligible")
		}
	}
	return m
}

// Headline is the diff in one line, for the run summary: per changed cycle
// its status change, the totals that changed, qualified-set moves and the
// number of leaderboard changes, then the number of referral rows that
// changed.
func (d *Diff) Headline() string {
	if d.Empty() {
		return fmt.Sprintf("no change since %s", d.Old)
	}
	var parts []string
	for _, c := range d.Cycles {
		var p []string
		switch {
		case c.Added:
			p = append(p, "new cycle")
		case c.Removed:
			p = append(p, "no longer in the cycle set")
		}
		if c.Status != nil {
			p = append(p, c.Status.Old+" -> "+c.Status.New)
		}
		if c.IsFinal != nil {
			p = append(p, map[bool]string{true: "now final", false: "no longer final"}[c.IsFinal.New])
		}
		for _, t := range c.Totals {
			if c.Added || c.Removed {
				break
			}
			if t.Money {
				p = append(p, fmt.Sprintf("%s %s -> %s %s (%s)", t.Field, pipeline.FormatDecimal(c.Currency, t.Old),
					pipeline.FormatDecimal(c.Currency, t.New), c.Currency, Signed(c.Currency, t.Delta())))
			} else {
				p = append(p, fmt.Sprintf("%s %d -> %d", t.Field, t.Old, t.New))
			}
		}
		if n := len(c.Entered); n > 0 {
			p = append(p, fmt.Sprintf("%d entered the qualified set", n))
		}
		if n := len(c.Left); n > 0 {
			p = append(p, fmt.Sprintf("%d left it", n))
		}
		if n := len(c.Moves); n > 0 {
			p = append(p, fmt.Sprintf("%d leaderboard changes", n))
		}
		parts = append(parts, c.CycleID+": "+strings.Join(p, ", "))
	}
	if d.RowsCompared && len(d.Rows) > 0 {
		parts = append(parts, fmt.Sprintf("%d referral rows changed", len(d.Rows)))
	}
	return fmt.Sprintf("since %s: %s", d.Old, strings.Join(parts, "; "))
}

// Signed renders a money delta in the currency's major unit with its sign
// ("+12.00", "-3.50").
func Signed(currency string, v int64) string {
	s := pipeline.FormatDecimal(currency, v)
	if v >= 0 {
		return "+" + s
	}
	return s
}
