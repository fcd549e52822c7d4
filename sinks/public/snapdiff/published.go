package snapdiff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/refrecon/refrecon/sinks/public"
)

// Published reads snapshot id back from the public layout: its cycles.json
// and every page of every cycle's leaderboard. It has no rows (HasRows
// false); the warehouse has them (see the diff command).
func Published(ctx context.Context, r *public.Reader, id string) (Snapshot, error) {
	s := Snapshot{ID: id}
	b, err := r.Document(ctx, id, public.CyclesName)
	if err != nil {
		return s, err
	}
	var doc struct {
		AsOf   string `json:"asOf"`
		Cycles []struct {
			ID    string `json:"id"`
			Rules struct {
				Currency  string     `json:"currency"`
				AwardPool moneyValue `json:"awardPool"`
			} `json:"rules"`
			Status             string     `json:"status"`
			IsFinal            bool       `json:"isFinal"`
			AwardPoolRemaining moneyValue `json:"awardPoolRemaining"`
			Totals             struct {
				Referrals          int64      `json:"referrals"`
				Conversions        int64      `json:"conversions"`
				PendingConversions int64      `json:"pendingConversions"`
				Revenue            moneyValue `json:"revenue"`
				PendingRevenue     moneyValue `json:"pendingRevenue"`
				RankedReferrers    int64      `json:"rankedReferrers"`
				QualifiedReferrers int64      `json:"qualifiedReferrers"`
				Awarded            moneyValue `json:"awarded"`
			} `json:"totals"`
		} `json:"cycles"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return s, fmt.Errorf("snapshot %s: parse %s: %w", id, public.CyclesName, err)
	}
	if s.AsOf, err = time.Parse(time.RFC3339, doc.AsOf); err != nil {
		return s, fmt.Errorf("snapshot %s: %s asOf: %w", id, public.CyclesName, err)
	}
	for _, c := range doc.Cycles {
		t := c.Totals
		cy := Cycle{ID: c.ID, Currency: c.Rules.Currency, Status: c.Status, IsFinal: c.IsFinal, Totals: Totals{
			Pool: int64(c.Rules.AwardPool), Awarded: int64(t.Awarded), Remaining: int64(c.AwardPoolRemaining),
			Referrals: t.Referrals, Conversions: t.Conversions, PendingConversions: t.PendingConversions,
			Revenue: int64(t.Revenue), PendingRevenue: int64(t.PendingRevenue),
			RankedReferrers: t.RankedReferrers, QualifiedReferrers: t.QualifiedReferrers}}
		if cy.Entries, err = leaderboard(ctx, r, id, c.ID); err != nil {
			return s, err
		}
		s.Cycles = append(s.Cycles, cy)
	}
	return s, nil
}

func leaderboard(ctx context.Context, r *public.Reader, id, cycle string) ([]Entry, error) {
	var out []Entry
	err := r.LeaderboardPages(ctx, id, cycle, func(rel string, b []byte) (bool, error) {
		var (
			more bool
			err  error
		)
		out, more, err = appendPage(out, b)
		if err != nil {
			return false, fmt.Errorf("snapshot %s: %s: %w", id, rel, err)
		}
		return more, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendPage appends the entries of the leaderboard page b to out and
// says whether the page has a next one.
func appendPage(out []Entry, b []byte) ([]Entry, bool, error) {
	var doc struct {
		Entries []struct {
			Rank      int             `json:"rank"`
			Refcode   string          `json:"refcode"`
			Score     json.RawMessage `json:"score"`
			Qualified bool            `json:"qualified"`
			Award     moneyValue      `json:"award"`
		} `json:"entries"`
		PageContext struct {
			HasNext bool `json:"hasNext"`
		} `json:"pageContext"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return out, false, fmt.Errorf("parse: %w", err)
	}
	for _, e := range doc.Entries {
		score, err := parseScore(e.Score)
		if err != nil {
			return out, false, fmt.Errorf("refcode %q: score: %w", e.Refcode, err)
		}
		out = append(out, Entry{Refcode: e.Refcode, Rank: e.Rank, Score: score, Qualified: e.Qualified, Award: int64(e.Award)})
	}
	return out, doc.PageContext.HasNext, nil
}

// moneyValue is the amount of a published money object
// ({"currency": "usd", "amount": "<digits>"}), in minor units.
type moneyValue int64

func (m *moneyValue) UnmarshalJSON(b []byte) error {
	if n, ok := compactMoney(b); ok {
		*m = moneyValue(n)
		return nil
	}
	var v struct {
		Amount string `json:"amount"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n, err := strconv.ParseInt(v.Amount, 10, 64)
	if err != nil {
		return fmt.Errorf("amount %q: %w", v.Amount, err)
	}
	*m = moneyValue(n)
	return nil
}

// compactMoney reads a money object written as the publisher writes it,
// {"currency":"<a-z>","amount":"<digits>"} with nothing else in it; false
// for any other text, which UnmarshalJSON then decodes as JSON. A run reads
// about 375,000 entries at 1M referrers with an award and a score each,
// and a second json.Unmarshal for each was most of the comparison's CPU
// (docs/performance.md, session 6).
func compactMoney(b []byte) (int64, bool) {
	const currency, amount = `{"currency":"`, `","amount":"`
	rest, ok := bytes.CutPrefix(b, []byte(currency))
	if !ok {
		return 0, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 1 {
		return 0, false
	}
	for _, c := range rest[:i] {
		if c < 'a' || c > 'z' {
			return 0, false
		}
	}
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(amount)); !ok {
		return 0, false
	}
	digits, ok := bytes.CutSuffix(rest, []byte(`"}`))
	if !ok || len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseScore reads a score: a number (conversions) or a money object.
func parseScore(b json.RawMessage) (int64, error) {
	if n, ok := compactMoney(b); ok {
		return n, nil
	}
	if len(b) > 0 && b[0] != '{' {
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return n, nil
		}
	}
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		return n, nil
	}
	var m moneyValue
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, err
	}
	return int64(m), nil
}

// Previous returns the id of the snapshot a diff against id compares with:
// the greatest snapshot id below id whose manifest is in the store (a
// snapshot without one was never completed). "" when there is none.
func Previous(ctx context.Context, r *public.Reader, id string) (string, error) {
	ids, err := r.Snapshots(ctx)
	if err != nil {
		return "", err
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if ids[i] >= id {
			continue
		}
		if _, err := r.Manifest(ctx, ids[i]); err == nil {
			return ids[i], nil
		}
	}
	return "", nil
}
