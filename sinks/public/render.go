package public

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// The documents of a snapshot, rendered apart from where they are stored:
// render calls emit once per document, in a fixed order, with the
// document's path relative to the snapshot and its value (encodeJSON makes
// the bytes).

// render produces every document of the snapshot but the manifest, in a
// fixed order.
func render(info pipeline.RunInfo, res *pipeline.Result, recordsPerPage int, settled map[string]*Settled, emit func(rel string, v any) error) error {
	asOf := formatTime(info.AsOf)

	// The published cycles: every computed cycle that is not settled, and
	// every settled cycle as it was settled, whether or not the cycle set
	// still has it (SPEC 2.8).
	type pubCycle struct {
		id    string
		start time.Time
		cr    *pipeline.CycleResult // nil for a settled cycle
		s     *Settled
	}
	var cycles []pubCycle
	for i := range res.Cycles {
		cr := &res.Cycles[i]
		if _, ok := settled[cr.Cycle.ID]; !ok {
			cycles = append(cycles, pubCycle{id: cr.Cycle.ID, start: cr.Cycle.Rules.StartTime, cr: cr})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(settled)) {
		s := settled[id]
		cycles = append(cycles, pubCycle{id: id, start: s.start, s: s})
	}

	// cycles.json: summaries, startTime descending (ties: id).
	order := slices.Clone(cycles)
	slices.SortStableFunc(order, func(a, b pubCycle) int {
		if c := b.start.Compare(a.start); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	doc := cyclesDoc{SnapshotID: info.SnapshotID, AsOf: asOf, Cycles: []any{}}
	for _, pc := range order {
		if pc.s != nil {
			doc.Cycles = append(doc.Cycles, pc.s.summary)
			continue
		}
		cr := pc.cr
		c := cr.Cycle
		rules, err := publicRules(c)
		if err != nil {
			return err
		}
		m := func(a int64) pipeline.Money { return pipeline.Money{Currency: c.Rules.Currency, Amount: a} }
		t := cr.Totals
		doc.Cycles = append(doc.Cycles, cycleSummary{
			ID: c.ID, DisplayName: publicText(c.DisplayName), RulesURL: publicText(c.RulesURL), Rules: rules,
			Status: cr.Status, IsFinal: cr.IsFinal, SettlesAt: formatTime(cr.SettlesAt),
			AwardPoolRemaining: m(cr.AwardPoolRemaining),
			Totals: totals{
				Referrals: t.Referrals, Conversions: t.Conversions, PendingConversions: t.PendingConversions,
				Revenue: m(t.Revenue), PendingRevenue: m(t.PendingRevenue),
				RankedReferrers: t.RankedReferrers, QualifiedReferrers: t.QualifiedReferrers, Awarded: m(t.Awarded),
			},
		})
	}
	if err := emit("cycles.json", doc); err != nil {
		return err
	}

	// Leaderboard pages. One page's entries and boosts are scratch reused
	// for the next page (emit encodes a page before it returns).
	pageEntries := make([]entry, 0, recordsPerPage)
	pageBoosts := make([]boost, recordsPerPage)
	var page leaderboardPage
	for _, pc := range cycles {
		if pc.s != nil {
			if err := renderSettledPages(pc.s, recordsPerPage, emit); err != nil {
				return err
			}
			continue
		}
		cr := pc.cr
		err := paginate(cr.Cycle.ID, len(cr.Leaderboard), recordsPerPage, emit, func(lo, hi int, ctx pageContext) any {
			entries := pageEntries[:0]
			for k := lo; k < hi; k++ {
				entries = append(entries, entryFor(&cr.Cycle, &cr.Leaderboard[k], &pageBoosts[k-lo]))
			}
			page = leaderboardPage{CycleID: cr.Cycle.ID, Status: cr.Status, AsOf: asOf, Entries: entries, PageContext: ctx}
			return &page
		})
		if err != nil {
			return err
		}
	}

	// Referrer files: one per users refcode, every cycle (cycle id order).
	// Where each referrer is in each cycle: per cycle and users row, k+1
	// for Leaderboard[k], -(k+1) for Unranked[k], 0 for neither.
	pos := make(map[string]int32, len(res.Referrers))
	for i := len(res.Referrers) - 1; i >= 0; i-- {
		pos[res.Referrers[i].Refcode] = int32(i) // the first row of a refcode
	}
	where := make([][]int32, len(res.Cycles))
	for i, cr := range res.Cycles {
		w := make([]int32, len(res.Referrers))
		for k := range cr.Unranked {
			if p, ok := pos[cr.Unranked[k].Refcode]; ok {
				w[p] = -int32(k + 1)
			}
		}
		for k := range cr.Leaderboard {
			if p, ok := pos[cr.Leaderboard[k].Refcode]; ok {
				w[p] = int32(k + 1)
			}
		}
		where[i] = w
	}
	// The referrer files' cycles in id order: k >= 0 is res.Cycles[k], a
	// settled cycle is ^index into cycles.
	idx := make(map[string]int, len(res.Cycles))
	for i := range res.Cycles {
		idx[res.Cycles[i].Cycle.ID] = i
	}
	var idOrder []int
	for k, pc := range cycles {
		if pc.s != nil {
			idOrder = append(idOrder, ^k)
		} else {
			idOrder = append(idOrder, idx[pc.id])
		}
	}
	idOf := func(i int) string {
		if i < 0 {
			return cycles[^i].id
		}
		return res.Cycles[i].Cycle.ID
	}
	slices.SortFunc(idOrder, func(a, b int) int { return strings.Compare(idOf(a), idOf(b)) })

	seen := make(map[string]string, len(res.Referrers))
	rf := referrerFile{cycles: make([]namedCycle, 0, len(idOrder))}
	// Scratch of one referrer file, reused (emit encodes rf before it
	// returns): each cycle's finalScoreBoost, and the entry of a referrer
	// a cycle does not list.
	boosts := make([]boost, len(idOrder))
	var absent pipeline.Entry
	for _, u := range res.Referrers {
		if u.Refcode == "" {
			continue // a users row without a refcode cannot be referred
		}
		pub := publicRefcode(u.Refcode)
		name := RefcodeFileName(pub)
		if prev, dup := seen[name]; dup {
			if prev == u.Refcode {
				continue // the same refcode twice in users
			}
			return fmt.Errorf("refcodes %q and %q map to the same file %s.json", prev, u.Refcode, name)
		}
		seen[name] = u.Refcode
		p := pos[u.Refcode]
		rf.refcode, rf.cycles = pub, rf.cycles[:0] // emit encodes rf before it returns
		absent.Refcode = u.Refcode
		for j, i := range idOrder {
			if i < 0 {
				// A settled cycle: the referrer's settled entry; a refcode
				// new since then is unranked.
				st := cycles[^i].s
				if raw, ok := st.refs[name]; ok {
					rf.cycles = append(rf.cycles, namedCycle{id: st.CycleID, raw: raw})
				} else {
					rf.cycles = append(rf.cycles, namedCycle{id: st.CycleID, v: referrerCycleFor(&st.cycle, &absent, false, &boosts[j])})
				}
				continue
			}
			cr := &res.Cycles[i]
			var v referrerCycle
			switch k := where[i][p]; {
			case k > 0:
				v = referrerCycleFor(&cr.Cycle, &cr.Leaderboard[k-1], true, &boosts[j])
			case k < 0:
				v = referrerCycleFor(&cr.Cycle, &cr.Unranked[-k-1], false, &boosts[j])
			default:
				v = referrerCycleFor(&cr.Cycle, &absent, false, &boosts[j])
			}
			rf.cycles = append(rf.cycles, namedCycle{id: cr.Cycle.ID, v: v})
		}
		if err := emit("referrers/"+name+".json", &rf); err != nil {
			return err
		}
	}
	return nil
}

// referrerFile is {"refcode": ..., "cycles": {"<id>": {...}, ...}} with the
// cycles in id order.
type referrerFile struct {
	refcode string
	cycles  []namedCycle
}

type namedCycle struct {
	id  string
	v   referrerCycle
	raw json.RawMessage // when set, the entry as a settled snapshot published it (v unused)
}

// renderSettledPages emits the leaderboard pages of a settled cycle: its
// settled entries, paginated at this run's page size.
func renderSettledPages(s *Settled, recordsPerPage int, emit func(rel string, v any) error) error {
	return paginate(s.CycleID, len(s.entries), recordsPerPage, emit, func(lo, hi int, ctx pageContext) any {
		return settledPage{
			CycleID: s.CycleID, Status: pipeline.Closed, SettledFrom: s.SnapshotID, AsOf: s.AsOf,
			Entries: append([]json.RawMessage{}, s.entries[lo:hi]...), PageContext: ctx,
		}
	})
}

// paginate emits cycles/<cycle>/leaderboard/<page>.json for n entries,
// recordsPerPage a page (an empty leaderboard has one empty page); page
// builds the document of entries [lo, hi).
func paginate(cycleID string, n, recordsPerPage int, emit func(rel string, v any) error, page func(lo, hi int, ctx pageContext) any) error {
	pages := max(1, (n+recordsPerPage-1)/recordsPerPage)
	for p := 1; p <= pages; p++ {
		lo, hi := min(n, (p-1)*recordsPerPage), min(n, p*recordsPerPage)
		ctx := pageContext{
			Page: p, RecordsPerPage: recordsPerPage, TotalRecords: n, TotalPages: pages,
			HasNext: p < pages, HasPrev: p > 1,
		}
		if err := emit(LeaderboardPageName(cycleID, p), page(lo, hi, ctx)); err != nil {
			return err
		}
	}
	return nil
}

func (r referrerFile) MarshalJSON() ([]byte, error) { return r.appendJSON(nil), nil }
