package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/sethvargo/go-envconfig"

	"github.com/refrecon/refrecon/cmd/internal/explain"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
)

// explainConfigured answers for every referral row and every referrer of the
// fixture run, and what it says agrees with what the run wrote: the
// warehouse's referral_decisions rows and the published leaderboards.
func TestE2EExplainAgreesWithTheRun(t *testing.T) {
	d := newDirs(t)
	rep := mustRun(t, d.env(fixtureAsOf))
	// AS_OF unset: explain takes the latest snapshot's asOf.
	cfg, err := loadConfig(t.Context(), envconfig.MapLookuper(d.env("", "AS_OF", "")))
	if err != nil {
		t.Fatal(err)
	}
	wh, err := sqlitewh.Open(d.Warehouse)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	rows, err := wh.ReferralDecisions(t.Context(), civil.DateOf(rep.Result.AsOf), rep.SnapshotID)
	if err != nil || len(rows) != int(rep.Counts.Referrals) {
		t.Fatalf("%d warehouse rows (err %v), want %d", len(rows), err, rep.Counts.Referrals)
	}
	for _, row := range rows {
		ex, err := explainConfigured(t.Context(), cfg, pipeline.TraceQuery{RefereeEmail: row.RefereeEmail}, "")
		if err != nil {
			t.Errorf("explain --referee %q: %v", row.RefereeEmail, err)
			continue
		}
		if !ex.AsOf.Equal(rep.Result.AsOf) {
			t.Fatalf("explain at %v, want the latest snapshot's asOf %v", ex.AsOf, rep.Result.AsOf)
		}
		i := slices.IndexFunc(ex.Rows, func(r pipeline.RowTrace) bool { return r.Decision.Row.Email == row.RefereeEmail })
		if i < 0 {
			t.Errorf("explain --referee %q does not explain that row", row.RefereeEmail)
			continue
		}
		rt := ex.Rows[i]
		dec := rt.Decision
		if string(dec.Outcome) != row.Outcome || dec.Reason != row.Reason || dec.Row.Refcode != row.Refcode || len(dec.Conversions) != len(row.Conversions) {
			t.Errorf("%q: explain says %s/%s (%d conversions), the warehouse %s/%s (%d)", row.RefereeEmail,
				dec.Outcome, dec.Reason, len(dec.Conversions), row.Outcome, row.Reason, len(row.Conversions))
			continue
		}
		for k, c := range dec.Conversions {
			w := row.Conversions[k]
			if c.CycleID != w.CycleID || c.Pending != w.Pending || c.RewardEligible != w.RewardEligible || c.Reason != w.Reason || c.InvoiceID != w.InvoiceID {
				t.Errorf("%q: conversion %+v, the warehouse %+v", row.RefereeEmail, c, w)
			}
			// The converting invoice is explained, and it qualifies there.
			j := slices.IndexFunc(rt.Invoices, func(it pipeline.InvoiceTrace) bool { return it.ID == c.InvoiceID })
			if j < 0 {
				t.Errorf("%q: converting invoice %s not among the explained invoices", row.RefereeEmail, c.InvoiceID)
				continue
			}
			it := rt.Invoices[j]
			if it.Net <= 0 || it.Net != max(it.Gross-it.Refunded-it.Credited-it.Disputed, 0) {
				t.Errorf("%q: invoice %s net %d from gross %d - %d - %d - %d", row.RefereeEmail, it.ID, it.Net, it.Gross, it.Refunded, it.Credited, it.Disputed)
			}
			q := slices.IndexFunc(it.Cycles, func(ic pipeline.InvoiceCycle) bool { return ic.CycleID == c.CycleID && ic.Qualifies && ic.InWindow })
			if q < 0 {
				t.Errorf("%q: invoice %s does not qualify in %s per the trace: %+v", row.RefereeEmail, it.ID, c.CycleID, it.Cycles)
			}
		}
		// A valid row that converts nowhere: its reason is the furthest any
		// of its invoices got (SPEC 2.7), as the trace shows them.
		if row.Outcome == "valid" && len(row.Conversions) == 0 && row.Reason == pipeline.ReasonNoCustomer && len(rt.Customers) != 0 {
			t.Errorf("%q: no_customer with matched customers %v", row.RefereeEmail, rt.Customers)
		}
	}

	// Every referrer: the published entry, and the award arithmetic adds up.
	r := public.NewReader(localdir.Open(d.Public))
	snap, err := snapdiff.Published(t.Context(), r, rep.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rep.Result.Referrers {
		if u.Refcode == "" {
			continue
		}
		ex, err := explainConfigured(t.Context(), cfg, pipeline.TraceQuery{Refcode: u.Refcode}, "")
		if err != nil {
			t.Errorf("explain --refcode %q: %v", u.Refcode, err)
			continue
		}
		for _, rc := range ex.Referrer.Cycles {
			c := snap.Cycles[slices.IndexFunc(snap.Cycles, func(c snapdiff.Cycle) bool { return c.ID == rc.Cycle.ID })]
			i := slices.IndexFunc(c.Entries, func(e snapdiff.Entry) bool { return e.Refcode == u.Refcode })
			if rc.Ranked != (i >= 0) {
				t.Errorf("%s in %s: ranked %t, published %t", u.Refcode, rc.Cycle.ID, rc.Ranked, i >= 0)
				continue
			}
			if int64(len(rc.Referrals)) != rc.Entry.Referrals {
				t.Errorf("%s in %s: %d referrals explained, %d counted", u.Refcode, rc.Cycle.ID, len(rc.Referrals), rc.Entry.Referrals)
			}
			if i < 0 {
				continue
			}
			pe := c.Entries[i]
			if rc.Entry.Rank != pe.Rank || rc.Entry.Score != pe.Score || rc.Entry.Qualified != pe.Qualified || rc.Entry.Award != pe.Award {
				t.Errorf("%s in %s: explained %+v, published %+v", u.Refcode, rc.Cycle.ID, rc.Entry, pe)
			}
			var revenue int64
			for _, ev := range rc.Events {
				revenue += ev.Net
			}
			if revenue != rc.Entry.Revenue {
				t.Errorf("%s in %s: events sum to %d, revenue %d", u.Refcode, rc.Cycle.ID, revenue, rc.Entry.Revenue)
			}
			switch p := rc.Pie; {
			case rc.Cycle.Rules.AwardModel == pipeline.RevShareCap:
				var claims int64
				for _, ev := range rc.Events {
					claims += ev.Claim
				}
				if claims != pe.Award {
					t.Errorf("%s in %s: claims sum to %d, award %d", u.Refcode, rc.Cycle.ID, claims, pe.Award)
				}
			case p == nil:
				t.Errorf("%s in %s: no pie-split arithmetic", u.Refcode, rc.Cycle.ID)
			case p.Qualified:
				extra := int64(0)
				if p.ExtraUnit {
					extra = 1
				}
				if p.Quotient+extra != pe.Award || p.Weight == "" || p.TotalWeight == "" {
					t.Errorf("%s in %s: %d + %d != award %d (%+v)", u.Refcode, rc.Cycle.ID, p.Quotient, extra, pe.Award, p)
				}
			case pe.Award != 0:
				t.Errorf("%s in %s: not qualified with an award of %d", u.Refcode, rc.Cycle.ID, pe.Award)
			}
		}
	}
}

// The command: JSON, a canonical email match, --cycle, flags, and exit 1
// naming an unknown email or refcode.
func TestE2EExplainCommand(t *testing.T) {
	d := newDirs(t)
	mustRun(t, d.env(fixtureAsOf))
	env := d.env("", "AS_OF", "")
	code, stdout, stderr := runMainEnv(t, env, "explain", "--referee", "  Credit.Refund+Newsletter@EXAMPLE.net ", "--json", "--cycle", "cycle-1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ex explain.Explanation
	if err := json.Unmarshal([]byte(stdout), &ex); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(ex.Rows) != 1 || ex.Rows[0].Decision.Row.Email != "credit.refund@example.net" || len(ex.Rows[0].Invoices) == 0 {
		t.Fatalf("explanation %+v", ex)
	}
	inv := ex.Rows[0].Invoices[0]
	if inv.Refunded == 0 || inv.Credited == 0 || inv.Net != inv.Gross-inv.Refunded-inv.Credited-inv.Disputed {
		t.Errorf("credit.refund's invoice %+v: want a refund and a credit note taken from its net", inv)
	}
	for _, c := range inv.Cycles {
		if c.CycleID != "cycle-1" {
			t.Errorf("--cycle cycle-1 shows %s", c.CycleID)
		}
	}
	code, stdout, _ = runMainEnv(t, env, "explain", "--refcode", "ALICE2025")
	for _, want := range []string{"referrer ALICE2025", "weight = score × (2N − 1 − q)", "W (sum of the qualified weights)", "remainder"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("explain --refcode ALICE2025 (exit %d) lacks %q:\n%s", code, want, stdout)
		}
	}
	for _, args := range [][]string{{"--refcode", "NOBODY"}, {"--referee", "nobody@example.com"}} {
		code, _, stderr = runMainEnv(t, env, append([]string{"explain"}, args...)...)
		if code != exitFailed || !strings.Contains(stderr, args[1]) {
			t.Errorf("explain %v: exit %d, stderr %q; want 1 naming it", args, code, stderr)
		}
	}
	for _, args := range [][]string{{}, {"--refcode", "A", "--referee", "b@c.d"}} {
		if code, _, _ = runMainEnv(t, env, append([]string{"explain"}, args...)...); code != exitConfig {
			t.Errorf("explain %v: exit %d, want 2", args, code)
		}
	}
}
