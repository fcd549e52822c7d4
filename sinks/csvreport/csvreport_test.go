package csvreport_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/csvreport"
)

var info = pipeline.RunInfo{SnapshotID: "20260415T000000Z-0123456789ab", AsOf: time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)}

func cycle(id, cur string, model pipeline.AwardModel, pool int64) pipeline.Cycle {
	return pipeline.Cycle{ID: id, DisplayName: id, Rules: pipeline.Rules{
		AwardModel: model, ScoreBy: pipeline.ScoreByConversions, Currency: cur, AwardPool: pipeline.Money{Currency: cur, Amount: pool},
	}}
}

func testResult() *pipeline.Result {
	usd := pipeline.CycleResult{
		Cycle: cycle("cycle-usd", "usd", pipeline.PieSplit, 1_000_000), Status: pipeline.Closed, AwardPoolRemaining: 0,
		Totals: pipeline.Totals{Referrals: 5, Conversions: 3, PendingConversions: 1, Revenue: 12_345, PendingRevenue: 5, RankedReferrers: 2, QualifiedReferrers: 2, Awarded: 1_000_000},
		Leaderboard: []pipeline.Entry{
			{Rank: 1, Refcode: "alice", Score: 2, Referrals: 3, Conversions: 2, Revenue: 12_340, Qualified: true, BoostNum: 1, BoostDen: 1, Award: 666_667},
			{Rank: 2, Refcode: "=HYPERLINK(\"http://evil\")", Score: 1, Referrals: 2, Conversions: 1, PendingConversions: 1, Revenue: 5, PendingRevenue: 5, Qualified: true, Award: 333_333,
				AdminAction: &pipeline.AdminAction{ActionType: pipeline.Warning, Reason: "said \"hi\",\nthen left"}},
		},
		Unranked: []pipeline.Entry{{Refcode: "zed"}, {Refcode: "carol"}},
		Events: []pipeline.AccountingLine{
			{InvoiceID: "in_1", CustomerID: "cus_1", Refcode: "alice", RefereeEmail: "+bob@example.com", PaidAt: 1772755200, Net: 12_000, AccumulatedRevenue: 12_000},
			{InvoiceID: "in_2", CustomerID: "cus_2", Refcode: "alice", RefereeEmail: "dan@example.com", PaidAt: 1772755300,
				Gross: 2000, Refunded: 1000, Credited: 500, Disputed: 160, Net: 340, AccumulatedRevenue: 12_340},
			{InvoiceID: "in_3", CustomerID: "cus_3", Refcode: "=HYPERLINK(\"http://evil\")", RefereeEmail: "eve@example.com", PaidAt: 1772755400, Net: 5, Pending: true, AccumulatedRevenue: 5},
		},
	}
	jpy := pipeline.CycleResult{
		Cycle: cycle("cycle-jpy", "jpy", pipeline.RevShareCap, 50_000), Status: pipeline.Active, AwardPoolRemaining: 48_800,
		Totals:      pipeline.Totals{Referrals: 1, Conversions: 1, Revenue: 12_000, RankedReferrers: 1, QualifiedReferrers: 1, Awarded: 1_200},
		Leaderboard: []pipeline.Entry{{Rank: 1, Refcode: "alice", Score: 12_000, Conversions: 1, Revenue: 12_000, Qualified: true, Award: 1_200}},
		Events: []pipeline.AccountingLine{
			{InvoiceID: "in_9", CustomerID: "cus_1", Refcode: "alice", RefereeEmail: "bob@example.com", PaidAt: 1775000000, Net: 12_000, AccumulatedRevenue: 12_000, PoolBefore: 50_000, Claim: 1_200},
		},
	}
	bhd := pipeline.CycleResult{Cycle: cycle("cycle-bhd", "bhd", pipeline.PieSplit, 1_234), AwardPoolRemaining: 1_234}
	return &pipeline.Result{
		Cycles: []pipeline.CycleResult{usd, jpy, bhd},
		Decisions: []pipeline.ReferralDecision{
			{Row: pipeline.ReferralRow{Email: "=kept@example.com", Refcode: "alice", ReferredAt: "2026-03-01 00:00:00", Rewarded: true},
				CanonicalEmail: "=kept@example.com", ReferredAt: 1772323200, Outcome: pipeline.Valid, Reason: pipeline.ReasonDisputed, Clawback: true},
			{Row: pipeline.ReferralRow{Email: "fine@example.com", Refcode: "alice", ReferredAt: "2026-03-01 00:00:00"},
				CanonicalEmail: "fine@example.com", ReferredAt: 1772323200, Outcome: pipeline.Valid, Reason: pipeline.ReasonNoCustomer},
			{Row: pipeline.ReferralRow{Email: "gone@example.com", Refcode: "zed", ReferredAt: "2026-02-01 00:00:00", SelectedPlan: "pro", Rewarded: true},
				CanonicalEmail: "gone@example.com", ReferredAt: 1769904000, Outcome: pipeline.Valid, Reason: pipeline.ReasonNoCustomer, Clawback: true},
		},
		Referrers: []pipeline.User{
			{Email: "alice@example.com", Refcode: "alice"}, {Email: "-mal@example.com", Refcode: "=HYPERLINK(\"http://evil\")"},
			{Email: "carol@example.com", Refcode: "carol"}, {Email: "zed@example.com", Refcode: "zed"},
		},
	}
}

// read parses a report with encoding/csv and returns its lines as maps.
func read(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(csvreport.Header)
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	if !slices.Equal(recs[0], csvreport.Header) {
		t.Fatalf("header = %v", recs[0])
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range csvreport.Header {
			m[h] = rec[i]
		}
		out = append(out, m)
	}
	return out
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("not an integer: %q", s)
	}
	return n
}

func TestReportRoundTripAndControlTotals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "private")
	if err := csvreport.New(dir).Write(context.Background(), info, testResult()); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{csvreport.ClawbackFile, "cycle-bhd.csv", "cycle-jpy.csv", "cycle-usd.csv"}) {
		t.Errorf("files = %v", names)
	}
	// Clawback candidates: the flagged rows only, in decision order.
	f, err := os.Open(filepath.Join(dir, csvreport.ClawbackFile))
	if err != nil {
		t.Fatal(err)
	}
	claw, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantClaw := [][]string{csvreport.ClawbackHeader,
		{info.SnapshotID, "'=kept@example.com", "'=kept@example.com", "alice", "2026-03-01T00:00:00Z", "", "disputed"},
		{info.SnapshotID, "gone@example.com", "gone@example.com", "zed", "2026-02-01T00:00:00Z", "pro", "no_customer"}}
	if fmt.Sprint(claw) != fmt.Sprint(wantClaw) {
		t.Errorf("%s:\n got %q\nwant %q", csvreport.ClawbackFile, claw, wantClaw)
	}

	lines := read(t, filepath.Join(dir, "cycle-usd.csv"))
	var kinds []string
	for _, l := range lines {
		kinds = append(kinds, l["record_type"])
		if l["snapshot_id"] != info.SnapshotID || l["cycle_id"] != "cycle-usd" || l["currency"] != "usd" {
			t.Errorf("line without its run and cycle: %v", l)
		}
	}
	want := []string{"referrer", "referrer", "referrer", "referrer", "event", "event", "event", "total"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("record types = %v, want %v", kinds, want)
	}
	// Referrers: ranked in rank order, then unranked by refcode.
	if lines[0]["refcode"] != "alice" || lines[0]["rank"] != "1" || lines[2]["refcode"] != "carol" || lines[2]["rank"] != "" || lines[3]["refcode"] != "zed" {
		t.Errorf("referrer order: %v %v %v %v", lines[0]["refcode"], lines[1]["refcode"], lines[2]["refcode"], lines[3]["refcode"])
	}
	if lines[0]["referrer_email"] != "alice@example.com" || lines[0]["award_minor"] != "666667" || lines[0]["award"] != "6666.67" || lines[0]["qualified"] != "true" {
		t.Errorf("alice = %v", lines[0])
	}
	// Formula injection is defused; embedded quotes and newlines survive.
	mal := lines[1]
	if mal["refcode"] != `'=HYPERLINK("http://evil")` || mal["referrer_email"] != "'-mal@example.com" || mal["admin_action"] != "Warning" || mal["admin_action_reason"] != "said \"hi\",\nthen left" {
		t.Errorf("hostile referrer = %q", mal)
	}
	if e := lines[5]; e["gross_minor"] != "2000" || e["gross"] != "20.00" || e["refunds_minor"] != "1000" || e["credit_notes_minor"] != "500" ||
		e["credit_notes"] != "5.00" || e["disputes_minor"] != "160" || e["disputes"] != "1.60" || e["net_minor"] != "340" {
		t.Errorf("event with refunds, credit notes and disputes = %v", e)
	}
	if lines[4]["referee_email"] != "'+bob@example.com" || lines[4]["paid_at"] != "2026-03-06T00:00:00Z" || lines[4]["seq"] != "1" || lines[6]["pending"] != "true" {
		t.Errorf("events = %v", lines[4:7])
	}

	// Control totals agree with the lines.
	for _, name := range []string{"cycle-usd", "cycle-jpy", "cycle-bhd"} {
		lines := read(t, filepath.Join(dir, name+".csv"))
		total := lines[len(lines)-1]
		if total["record_type"] != "total" {
			t.Fatalf("%s: last line is %v", name, total)
		}
		var awards, net, conv, ranked int64
		for _, l := range lines[:len(lines)-1] {
			switch l["record_type"] {
			case "referrer":
				awards += atoi(t, l["award_minor"])
				conv += atoi(t, l["conversions"])
				if l["rank"] != "" {
					ranked++
				}
			case "event":
				net += atoi(t, l["net_minor"])
			}
		}
		if awards != atoi(t, total["award_minor"]) || net != atoi(t, total["revenue_minor"]) || conv != atoi(t, total["conversions"]) || ranked != atoi(t, total["ranked_referrers"]) {
			t.Errorf("%s: lines sum to award %d revenue %d conversions %d ranked %d; total line %v", name, awards, net, conv, ranked, total)
		}
		if atoi(t, total["pool_minor"])-atoi(t, total["award_minor"]) != atoi(t, total["remaining_minor"]) {
			t.Errorf("%s: pool - awarded != remaining: %v", name, total)
		}
	}

	// Decimal amounts per currency exponent.
	jpy := read(t, filepath.Join(dir, "cycle-jpy.csv"))
	if jpy[0]["award"] != "1200" || jpy[0]["score"] != "12000" || jpy[0]["score_decimal"] != "12000" || jpy[1]["pool_before"] != "50000" || jpy[1]["claim"] != "1200" {
		t.Errorf("jpy lines = %v", jpy[:2])
	}
	if lines[0]["score_decimal"] != "" {
		t.Errorf("a conversions score has a decimal: %v", lines[0])
	}
	bhd := read(t, filepath.Join(dir, "cycle-bhd.csv"))
	if tl := bhd[len(bhd)-1]; tl["pool"] != "1.234" || tl["award"] != "0.000" || tl["remaining"] != "1.234" {
		t.Errorf("bhd total = %v", tl)
	}
	if tot := lines[len(lines)-1]; tot["revenue"] != "123.45" || tot["pending_revenue"] != "0.05" || tot["pool"] != "10000.00" {
		t.Errorf("usd total = %v", tot)
	}
}

func TestRewriteReplacesAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".cycle-usd.csv.tmp-dead"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := csvreport.New(dir)
	if err := w.Write(context.Background(), info, testResult()); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, "cycle-usd.csv"))
	if err := w.Write(context.Background(), info, testResult()); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(dir, "cycle-usd.csv"))
	if string(first) != string(second) {
		t.Errorf("same run, different bytes")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if err := csvreport.New(dir).Write(ctx, info, testResult()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Write = %v", err)
	}
	res := testResult()
	res.Cycles[0].Cycle.ID = "../x"
	if err := csvreport.New(dir).Write(context.Background(), info, res); err == nil {
		t.Errorf("cycle id ../x accepted")
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if err := csvreport.New(filepath.Join(file, "sub")).Write(context.Background(), info, testResult()); err == nil {
		t.Errorf("Write under a regular file succeeded")
	}
	if err := csvreport.New(dir).Write(context.Background(), info, nil); err == nil {
		t.Errorf("nil result accepted")
	}
}

func TestSettledCycleDrift(t *testing.T) {
	dir := t.TempDir()
	res := testResult()
	pipeline.ApplySettled(res, []pipeline.SettledCycle{{CycleID: "cycle-usd", SnapshotID: "20260401T000000Z-000000000001", Currency: "usd",
		Awards: map[string]int64{"alice": 700_000, "carol": 300_000}}})
	if err := csvreport.New(dir).Write(context.Background(), info, res); err != nil {
		t.Fatal(err)
	}
	got := map[string][3]string{}
	for _, l := range read(t, filepath.Join(dir, "cycle-usd.csv")) {
		if l["record_type"] != "event" {
			got[l["record_type"]+" "+l["refcode"]] = [3]string{l["settled_from"], l["settled_award_minor"], l["award_drift_minor"]}
		}
	}
	from := "20260401T000000Z-000000000001"
	want := map[string][3]string{
		"referrer alice": {from, "700000", "33333"}, "referrer '=HYPERLINK(\"http://evil\")": {from, "0", "-333333"},
		"referrer carol": {from, "300000", "300000"}, "referrer zed": {from, "0", "0"}, "total ": {from, "1000000", "0"},
	}
	if !maps.Equal(got, want) {
		t.Errorf("settled columns\n got %v\nwant %v", got, want)
	}
	for _, l := range read(t, filepath.Join(dir, "cycle-jpy.csv")) {
		if l["settled_from"] != "" || l["award_drift_minor"] != "" {
			t.Errorf("a cycle that is not settled has settled columns: %v", l)
		}
	}
}
