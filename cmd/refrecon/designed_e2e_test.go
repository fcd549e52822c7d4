package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/warehouse"
)

// The fixtures' README lists the designed outcome of every scenario, as
// computed by the fixture builder's independent evaluation of SPEC 2 at
// fixtureAsOf. These tests parse it and check the published outputs of a
// whole run (public JSON, warehouse rows) against it.

// designedCycle is one "### <cycle>" section of fixtures/README.md.
type designedCycle struct {
	id         string
	summary    map[string]string // status, isFinal, pool, awarded, remaining, referrals, ...
	rows       [][]string        // leaderboard table cells
	unranked   map[string]int64  // refcode -> referrals in the window
	accounting [][]string        // accounting table cells (rev-share-cap)
}

// designedSet is one cycle set's section.
type designedSet struct {
	counts map[string]int64 // outcome or reason -> count
	cycles []*designedCycle
}

var (
	summaryRE  = regexp.MustCompile(`^\S+ \.\. \S+: status (\w+), isFinal (\w+), pool (\d+), awarded (\d+), remaining (\d+)\. Totals: referrals (\d+), conversions (\d+) \(pending (\d+)\), revenue (\d+) \(pending (\d+)\), ranked (\d+), qualified (\d+)\.$`)
	summaryKey = []string{"status", "isFinal", "pool", "awarded", "remaining", "referrals", "conversions", "pendingConversions", "revenue", "pendingRevenue", "ranked", "qualified"}
	unrankedRE = regexp.MustCompile(`(\S+) \((\d+)\)`)
)

func parseDesigned(t *testing.T) map[string]*designedSet {
	t.Helper()
	f, err := os.Open(repoFile(t, "fixtures/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sets := map[string]*designedSet{}
	var set *designedSet
	var cyc *designedCycle
	table := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## Default cycle set"):
			set = &designedSet{counts: map[string]int64{}}
			sets["default"], cyc = set, nil
		case strings.HasPrefix(line, "## Custom cycle set"):
			set = &designedSet{counts: map[string]int64{}}
			sets["custom"], cyc = set, nil
		case strings.HasPrefix(line, "## "):
			set, cyc = nil, nil
		case set == nil:
		case strings.HasPrefix(line, "### "):
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "### "), " ")
			cyc = &designedCycle{id: id, summary: map[string]string{}, unranked: map[string]int64{}}
			set.cycles = append(set.cycles, cyc)
		case summaryRE.MatchString(line) && cyc != nil:
			m := summaryRE.FindStringSubmatch(line)
			for i, k := range summaryKey {
				cyc.summary[k] = m[i+1]
			}
		case strings.HasPrefix(line, "Unranked with referrals in the window: ") && cyc != nil:
			for _, m := range unrankedRE.FindAllStringSubmatch(line, -1) {
				n, _ := strconv.ParseInt(m[2], 10, 64)
				cyc.unranked[m[1]] = n
			}
		case strings.HasPrefix(line, "|"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			for i := range cells {
				cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "*")
			}
			switch {
			case cells[0] == "outcome / reason" || cells[0] == "rank" || cells[0] == "paid_at":
				table = cells[0]
			case strings.HasPrefix(cells[0], "---"):
			case table == "outcome / reason":
				n, err := strconv.ParseInt(cells[1], 10, 64)
				if err != nil {
					t.Fatalf("README: %q: %v", line, err)
				}
				set.counts[cells[0]] = n
			case table == "rank" && cyc != nil:
				cyc.rows = append(cyc.rows, cells)
			case table == "paid_at" && cyc != nil:
				cyc.accounting = append(cyc.accounting, cells)
			}
		default:
			table = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || len(sets["default"].cycles) != 2 || len(sets["custom"].cycles) != 4 {
		t.Fatalf("README parsed into %d sets; is its format still the same?", len(sets))
	}
	if c := sets["custom"].cycles[1]; c.id != "q1-2026-revshare" || len(c.accounting) == 0 {
		t.Fatalf("README: no accounting table parsed for %s", c.id)
	}
	for name, s := range sets {
		for _, c := range s.cycles {
			if len(c.summary) == 0 {
				t.Fatalf("README %s/%s: no summary line parsed", name, c.id)
			}
		}
	}
	return sets
}

// publicEntry is a leaderboard entry as published.
type publicEntry struct {
	Rank               int64
	Refcode            string
	Score              json.RawMessage
	Referrals          int64
	Conversions        int64
	PendingConversions int64
	Revenue            struct{ Amount string }
	PendingRevenue     struct{ Amount string }
	Qualified          bool
	FinalScoreBoost    *float64
	Award              struct{ Amount string }
	AdminAction        *struct{ ActionType string }
}

type publicCycle struct {
	ID                 string
	Status             string
	IsFinal            bool
	AwardPoolRemaining struct{ Amount string }
	Rules              struct {
		AwardModel string
		AwardPool  struct{ Amount string }
	}
	Totals struct {
		Referrals, Conversions, PendingConversions int64
		Revenue, PendingRevenue, Awarded           struct{ Amount string }
		RankedReferrers, QualifiedReferrers        int64
	}
}

func TestE2EDesignedOutcomes(t *testing.T) {
	t.Parallel()
	designed := parseDesigned(t)
	for _, gc := range goldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			want := designed[gc.name]
			d := newDirs(t)
			rep := mustRun(t, d.env(gc.asOf, gc.extra(t)...))
			tree := readTree(t, d.Public)
			root := "snapshots/" + rep.SnapshotID + "/"
			decode := func(rel string, v any) {
				t.Helper()
				b, ok := tree[root+rel]
				if !ok {
					t.Fatalf("%s not published", rel)
				}
				if err := json.Unmarshal(b, v); err != nil {
					t.Fatalf("%s: %v", rel, err)
				}
			}

			// Outcome and reason counts, from the warehouse's decisions.
			snap := readSQLiteWarehouse(t, d.Warehouse, fixtureDay())
			got := map[string]int64{}
			for _, dec := range snap.ReferralDecisions {
				got[dec.Outcome]++
				if dec.Reason != "" {
					got[dec.Reason]++
				}
				for _, c := range dec.Conversions {
					if c.RewardEligible {
						got["eligible"]++
					} else {
						got[c.Reason]++
					}
				}
			}
			checkCounts(t, "outcome and reason counts", want.counts, got)

			var cycles struct{ Cycles []publicCycle }
			decode("cycles.json", &cycles)
			byID := map[string]publicCycle{}
			for _, c := range cycles.Cycles {
				byID[c.ID] = c
			}
			if len(byID) != len(want.cycles) {
				t.Errorf("cycles.json has %d cycles, README %d", len(byID), len(want.cycles))
			}
			for _, wc := range want.cycles {
				pc, ok := byID[wc.id]
				if !ok {
					t.Errorf("cycle %s not in cycles.json", wc.id)
					continue
				}
				checkSummary(t, wc, pc)
				checkLeaderboard(t, wc, pc, leaderboard(t, tree, root, wc.id), rep)
				checkUnranked(t, wc, tree, root)
				if wc.accounting != nil {
					checkAccounting(t, wc, snap)
				}
			}
		})
	}
}

func checkCounts(t *testing.T, what string, want, got map[string]int64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s = %d, README says %d", what, k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s = %d, not in README", what, k, g)
		}
	}
}

func checkSummary(t *testing.T, wc *designedCycle, pc publicCycle) {
	t.Helper()
	s := wc.summary
	got := map[string]string{
		"status": pc.Status, "isFinal": strconv.FormatBool(pc.IsFinal), "pool": pc.Rules.AwardPool.Amount,
		"awarded": pc.Totals.Awarded.Amount, "remaining": pc.AwardPoolRemaining.Amount,
		"referrals": fmt.Sprint(pc.Totals.Referrals), "conversions": fmt.Sprint(pc.Totals.Conversions),
		"pendingConversions": fmt.Sprint(pc.Totals.PendingConversions), "revenue": pc.Totals.Revenue.Amount,
		"pendingRevenue": pc.Totals.PendingRevenue.Amount, "ranked": fmt.Sprint(pc.Totals.RankedReferrers),
		"qualified": fmt.Sprint(pc.Totals.QualifiedReferrers),
	}
	for _, k := range summaryKey {
		if got[k] != s[k] {
			t.Errorf("cycle %s: %s = %s, README says %s", wc.id, k, got[k], s[k])
		}
	}
	// Awards and the remaining pool add up to the pool.
	pool, _ := strconv.ParseInt(pc.Rules.AwardPool.Amount, 10, 64)
	awarded, _ := strconv.ParseInt(pc.Totals.Awarded.Amount, 10, 64)
	remaining, _ := strconv.ParseInt(pc.AwardPoolRemaining.Amount, 10, 64)
	if awarded+remaining != pool {
		t.Errorf("cycle %s: awarded %d + remaining %d != pool %d", wc.id, awarded, remaining, pool)
	}
}

// leaderboard reads every page of a cycle's leaderboard.
func leaderboard(t *testing.T, tree map[string][]byte, root, cycle string) []publicEntry {
	t.Helper()
	var out []publicEntry
	for page := 1; ; page++ {
		b, ok := tree[fmt.Sprintf("%scycles/%s/leaderboard/%d.json", root, cycle, page)]
		if !ok {
			if page == 1 {
				t.Fatalf("cycle %s: no leaderboard page 1", cycle)
			}
			return out
		}
		var p struct {
			Entries     []publicEntry
			PageContext struct{ HasNext bool }
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Entries...)
		if !p.PageContext.HasNext {
			return out
		}
	}
}

func checkLeaderboard(t *testing.T, wc *designedCycle, pc publicCycle, entries []publicEntry, rep *reconcile.Report) {
	t.Helper()
	if len(entries) != len(wc.rows) {
		t.Errorf("cycle %s: %d leaderboard entries, README %d", wc.id, len(entries), len(wc.rows))
	}
	reached := map[string]int64{}
	for _, c := range rep.Result.Cycles {
		if c.Cycle.ID == wc.id {
			for _, e := range c.Leaderboard {
				reached[e.Refcode] = e.ScoreReachedAt
			}
		}
	}
	var awardSum int64
	for i := 0; i < len(entries) && i < len(wc.rows); i++ {
		e, r := entries[i], wc.rows[i]
		admin := ""
		if e.AdminAction != nil {
			admin = e.AdminAction.ActionType
		}
		boost := "-"
		if e.FinalScoreBoost != nil {
			boost = fmt.Sprint(*e.FinalScoreBoost)
		}
		got := []string{fmt.Sprint(e.Rank), e.Refcode, scoreText(e.Score), fmt.Sprint(e.Referrals), fmt.Sprint(e.Conversions),
			fmt.Sprint(e.PendingConversions), e.Revenue.Amount, e.PendingRevenue.Amount,
			time.Unix(reached[e.Refcode], 0).UTC().Format(time.RFC3339), strconv.FormatBool(e.Qualified), boost, e.Award.Amount, admin}
		want := append([]string(nil), r...)
		want[10] = boostText(want[10])
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("cycle %s rank %d:\n got    %s\n README %s", wc.id, i+1, strings.Join(got, " | "), strings.Join(want, " | "))
		}
		a, _ := strconv.ParseInt(e.Award.Amount, 10, 64)
		awardSum += a
	}
	if fmt.Sprint(awardSum) != pc.Totals.Awarded.Amount {
		t.Errorf("cycle %s: leaderboard awards add up to %d, totals.awarded %s", wc.id, awardSum, pc.Totals.Awarded.Amount)
	}
}

// scoreText renders a published score (a number, or money for revenue).
func scoreText(raw json.RawMessage) string {
	var m struct{ Amount string }
	if json.Unmarshal(raw, &m) == nil && m.Amount != "" {
		return m.Amount
	}
	return string(raw)
}

// boostText turns README's "7/9" into the float the JSON carries.
func boostText(s string) string {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return s
	}
	n, _ := strconv.ParseFloat(num, 64)
	d, _ := strconv.ParseFloat(den, 64)
	return fmt.Sprint(n / d)
}

// checkUnranked: every referrer README lists as unranked with referrals has
// an unranked entry with that many referrals in its referrer file.
func checkUnranked(t *testing.T, wc *designedCycle, tree map[string][]byte, root string) {
	t.Helper()
	for refcode, n := range wc.unranked {
		b, ok := tree[root+"referrers/"+public.RefcodeFileName(refcode)+".json"]
		if !ok {
			t.Errorf("no referrer file for %s", refcode)
			continue
		}
		var f struct {
			Refcode string
			Cycles  map[string]struct {
				Type      string
				Rank      *int64
				Referrals int64
			}
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		c := f.Cycles[wc.id]
		if f.Refcode != refcode || c.Type != "unranked" || c.Rank != nil || c.Referrals != n {
			t.Errorf("referrer %s in %s: %+v, README: unranked with %d referrals", refcode, wc.id, c, n)
		}
	}
}

// checkAccounting compares README's accounting trail with the warehouse's
// payment_accounting rows.
func checkAccounting(t *testing.T, wc *designedCycle, snap warehouse.Snapshot) {
	t.Helper()
	var rows []warehouse.PaymentAccounting
	for _, r := range snap.PaymentAccounting {
		if r.CycleID == wc.id {
			rows = append(rows, r)
		}
	}
	if len(rows) != len(wc.accounting) {
		t.Errorf("cycle %s: %d payment_accounting rows, README %d", wc.id, len(rows), len(wc.accounting))
	}
	bySeq := map[int64]warehouse.PaymentAccounting{}
	for _, r := range rows {
		bySeq[r.Seq] = r
	}
	for i, want := range wc.accounting {
		r, ok := bySeq[int64(i+1)]
		if !ok {
			t.Errorf("cycle %s: no accounting row %d", wc.id, i+1)
			continue
		}
		got := []string{r.PaidAt.UTC().Format(time.RFC3339), r.InvoiceID, r.Refcode, fmt.Sprint(r.Net), strconv.FormatBool(r.Pending),
			fmt.Sprint(r.AccumulatedRevenue), fmt.Sprint(r.PoolBefore), fmt.Sprint(r.Claim)}
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("cycle %s accounting row %d:\n got    %s\n README %s", wc.id, i+1, strings.Join(got, " | "), strings.Join(want, " | "))
		}
	}
}
