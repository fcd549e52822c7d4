package public

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
)

// The documents of a snapshot, rendered apart from where they are stored:
// render calls emit once per document, in a fixed order, with the
// document's path relative to the snapshot and its value (encodeJSON makes
// the bytes).

// render produces every document of the snapshot but the manifest, in a
// fixed order.
func render(info pipeline.RunInfo, res *pipeline.Result, recordsPerPage int, emit func(rel string, v any) error) error {
	asOf := formatTime(info.AsOf)

	// cycles.json: summaries, startTime descending (ties: id).
	order := make([]int, len(res.Cycles))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := res.Cycles[a].Cycle, res.Cycles[b].Cycle
		if c := cb.Rules.StartTime.Compare(ca.Rules.StartTime); c != 0 {
			return c
		}
		return strings.Compare(ca.ID, cb.ID)
	})
	doc := cyclesDoc{SnapshotID: info.SnapshotID, AsOf: asOf, Cycles: []cycleSummary{}}
	for _, i := range order {
		cr := res.Cycles[i]
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

	// Leaderboard pages.
	for _, cr := range res.Cycles {
		dir := path.Join("cycles", cr.Cycle.ID, "leaderboard")
		n := len(cr.Leaderboard)
		pages := max(1, (n+recordsPerPage-1)/recordsPerPage)
		for page := 1; page <= pages; page++ {
			lo := min(n, (page-1)*recordsPerPage)
			hi := min(n, page*recordsPerPage)
			entries := make([]entry, 0, hi-lo)
			for _, e := range cr.Leaderboard[lo:hi] {
				entries = append(entries, entryFor(cr.Cycle, e))
			}
			lp := leaderboardPage{
				CycleID: cr.Cycle.ID, Status: cr.Status, AsOf: asOf, Entries: entries,
				PageContext: pageContext{
					Page: page, RecordsPerPage: recordsPerPage, TotalRecords: n, TotalPages: pages,
					HasNext: page < pages, HasPrev: page > 1,
				},
			}
			if err := emit(path.Join(dir, strconv.Itoa(page)+".json"), lp); err != nil {
				return err
			}
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
	idOrder := make([]int, len(res.Cycles))
	for i := range idOrder {
		idOrder[i] = i
	}
	slices.SortFunc(idOrder, func(a, b int) int { return strings.Compare(res.Cycles[a].Cycle.ID, res.Cycles[b].Cycle.ID) })

	seen := make(map[string]string, len(res.Referrers))
	rf := referrerFile{cycles: make([]namedCycle, 0, len(res.Cycles))}
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
		for _, i := range idOrder {
			cr := &res.Cycles[i]
			var v referrerCycle
			switch k := where[i][p]; {
			case k > 0:
				v = referrerCycleFor(cr.Cycle, cr.Leaderboard[k-1], true)
			case k < 0:
				v = referrerCycleFor(cr.Cycle, cr.Unranked[-k-1], false)
			default:
				v = referrerCycleFor(cr.Cycle, pipeline.Entry{Refcode: u.Refcode}, false)
			}
			rf.cycles = append(rf.cycles, namedCycle{id: cr.Cycle.ID, v: v})
		}
		if err := emit("referrers/"+name+".json", rf); err != nil {
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
	id string
	v  referrerCycle
}

func (r referrerFile) MarshalJSON() ([]byte, error) { return r.appendJSON(nil), nil }
