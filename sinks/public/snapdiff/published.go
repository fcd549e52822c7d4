package snapdiff

import (
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
			return false, fmt.Errorf("snapshot %s: parse %s: %w", id, rel, err)
		}
		for _, e := range doc.Entries {
			score, err := parseScore(e.Score)
			if err != nil {
				return false, fmt.Errorf("snapshot %s: %s: refcode %q: score: %w", id, rel, e.Refcode, err)
			}
			out = append(out, Entry{Refcode: e.Refcode, Rank: e.Rank, Score: score, Qualified: e.Qualified, Award: int64(e.Award)})
		}
		return doc.PageContext.HasNext, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// moneyValue is the amount of a published money object
// ({"currency": "usd", "amount": "<digits>"}), in minor units.
type moneyValue int64

func (m *moneyValue) UnmarshalJSON(b []byte) error {
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

// parseScore reads a score: a number (conversions) or a money object.
func parseScore(b json.RawMessage) (int64, error) {
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
