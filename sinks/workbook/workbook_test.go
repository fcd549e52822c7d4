package workbook_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	"github.com/refrecon/refrecon/sinks/workbook"
)

var asOf = time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)

var info = pipeline.RunInfo{SnapshotID: "20260415T000000Z-0123456789ab", AsOf: asOf, CodeVersion: "test"}

const evil = "=HYPERLINK(\"http://evil\")"

func cycle(id, cur string, model pipeline.AwardModel, pool int64) pipeline.Cycle {
	return pipeline.Cycle{ID: id, DisplayName: "Cycle " + id, Rules: pipeline.Rules{
		AwardModel: model, ScoreBy: pipeline.ScoreByConversions, Currency: cur, AwardPool: pipeline.Money{Currency: cur, Amount: pool},
		StartTime: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC),
	}}
}

const longID = "a-cycle-id-that-is-much-longer-than-thirty-one-characters"

func testResult() *pipeline.Result {
	usd := pipeline.CycleResult{
		Cycle: cycle("cycle-usd", "usd", pipeline.PieSplit, 1_000_000), Status: pipeline.Closed, IsFinal: true,
		SettlesAt: time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC),
		Totals:    pipeline.Totals{Referrals: 5, Conversions: 3, PendingConversions: 1, Revenue: 12_345, PendingRevenue: 5, RankedReferrers: 2, QualifiedReferrers: 2, Awarded: 1_000_000},
		Leaderboard: []pipeline.Entry{
			{Rank: 1, Refcode: "alice", Score: 2, Referrals: 3, Conversions: 2, Revenue: 12_340, Qualified: true, BoostNum: 1, BoostDen: 1, Award: 666_667},
			{Rank: 2, Refcode: evil, Score: 1, Referrals: 2, Conversions: 1, PendingConversions: 1, Revenue: 5, PendingRevenue: 5, Qualified: true, Award: 333_333,
				AdminAction: &pipeline.AdminAction{ActionType: pipeline.Warning, Reason: "+1 said hi"}},
		},
		Unranked: []pipeline.Entry{{Refcode: "zed"}, {Refcode: "carol"}},
		Events: []pipeline.AccountingLine{
			{InvoiceID: "in_1", CustomerID: "cus_1", Refcode: "alice", RefereeEmail: "+bob@example.com", PaidAt: 1772755200, Gross: 12_500, Refunded: 500, Net: 12_000, AccumulatedRevenue: 12_000},
			{InvoiceID: "in_2", CustomerID: "cus_2", Refcode: "alice", RefereeEmail: "dan@example.com", PaidAt: 1772755300, Net: 340, AccumulatedRevenue: 12_340},
			{InvoiceID: "in_3", CustomerID: "cus_3", Refcode: evil, RefereeEmail: "eve@example.com", PaidAt: 1772755400, Net: 5, Pending: true, AccumulatedRevenue: 5},
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
	long := pipeline.CycleResult{Cycle: cycle(longID, "kwd", pipeline.PieSplit, 1_234), AwardPoolRemaining: 1_234}
	return &pipeline.Result{
		AsOf:   asOf,
		Cycles: []pipeline.CycleResult{usd, jpy, long},
		Decisions: []pipeline.ReferralDecision{
			{Row: pipeline.ReferralRow{Email: "ok@example.com", Refcode: "alice"}, Outcome: pipeline.Valid},
			{Row: pipeline.ReferralRow{Email: "old@example.com", Refcode: "alice", Rewarded: true}, ReferredAt: 1772000000,
				Outcome: pipeline.Valid, Reason: pipeline.ReasonRefunded, Clawback: true},
		},
		Referrers: []pipeline.User{
			{Email: "alice@example.com", Refcode: "alice"}, {Email: "-mal@example.com", Refcode: evil},
			{Email: "carol@example.com", Refcode: "carol"}, {Email: "zed@example.com", Refcode: "zed"},
		},
	}
}

func open(t *testing.T, path string) *excelize.File {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// writeBook writes the workbook of in into dir and returns its path.
func writeBook(t *testing.T, dir string, in workbook.Input) string {
	t.Helper()
	w, err := workbook.Write(context.Background(), dir, in)
	if err != nil {
		t.Fatal(err)
	}
	return w.Path
}

// sheetRows is the rows of sheet in f.
func sheetRows(t *testing.T, f *excelize.File, sheet string) [][]string {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// cell is what one cell holds: its type, raw value and number format.
type cell struct {
	typ    excelize.CellType
	raw    string
	numFmt string
	hasF   bool
}

func read(t *testing.T, f *excelize.File, sheet, ref string) cell {
	t.Helper()
	typ, err := f.GetCellType(sheet, ref)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	form, _ := f.GetCellFormula(sheet, ref)
	c := cell{typ: typ, raw: raw, hasF: form != ""}
	if id, err := f.GetCellStyle(sheet, ref); err == nil && id != 0 {
		st, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.CustomNumFmt != nil {
			c.numFmt = *st.CustomNumFmt
		}
	}
	return c
}

func TestWorkbookSheetsTypesAndFormats(t *testing.T) {
	dir := t.TempDir()
	res := testResult()
	path := writeBook(t, dir, workbook.Input{Info: info, Result: res})
	if filepath.Base(path) != "report-"+info.SnapshotID+".xlsx" {
		t.Fatalf("path %s", path)
	}
	f := open(t, path)
	longName := workbook.SheetName(longID, 1)
	if len(longName) != 31 || !strings.HasPrefix(longName, longID[:22]+"~") {
		t.Fatalf("long sheet name %q", longName)
	}
	wantSheets := []string{workbook.SummarySheet, "cycle-usd", "cycle-jpy", longName, workbook.ClawbackSheet, workbook.ChangesSheet}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Fatalf("sheets %q, want %q", got, wantSheets)
	}
	if c := read(t, f, longName, "A1"); c.raw != longID {
		t.Errorf("A1 of %s = %q, want the full id", longName, c.raw)
	}

	// Summary: one row per cycle from row 3, money numeric per currency.
	check := func(sheet, ref string, typ excelize.CellType, raw, numFmt string) {
		t.Helper()
		c := read(t, f, sheet, ref)
		if typ == excelize.CellTypeNumber && c.typ == excelize.CellTypeUnset && c.raw != "" {
			// A number cell has no t attribute; excelize reports it unset.
			if _, err := strconv.ParseFloat(c.raw, 64); err == nil {
				c.typ = excelize.CellTypeNumber
			}
		}
		if c.typ != typ || c.raw != raw || c.numFmt != numFmt || c.hasF {
			t.Errorf("%s!%s = %+v, want type %v raw %q format %q", sheet, ref, c, typ, raw, numFmt)
		}
	}
	for i, cr := range res.Cycles {
		row := strconv.Itoa(3 + i)
		check(workbook.SummarySheet, "A"+row, excelize.CellTypeInlineString, cr.Cycle.ID, "")
		check(workbook.SummarySheet, "E"+row, excelize.CellTypeInlineString, string(cr.Status), "")
		check(workbook.SummarySheet, "F"+row, excelize.CellTypeBool, map[bool]string{true: "1", false: "0"}[cr.IsFinal], "")
		cur := cr.Cycle.Rules.Currency
		fmtWant := map[string]string{"usd": "#,##0.00", "jpy": "#,##0", "kwd": "#,##0.000"}[cur]
		check(workbook.SummarySheet, "J"+row, excelize.CellTypeNumber, trimZeros(pipeline.FormatDecimal(cur, cr.Cycle.Rules.AwardPool.Amount)), fmtWant)
		check(workbook.SummarySheet, "K"+row, excelize.CellTypeNumber, trimZeros(pipeline.FormatDecimal(cur, cr.Totals.Awarded)), fmtWant)
		check(workbook.SummarySheet, "L"+row, excelize.CellTypeNumber, trimZeros(pipeline.FormatDecimal(cur, cr.AwardPoolRemaining)), fmtWant)
		check(workbook.SummarySheet, "M"+row, excelize.CellTypeNumber, strconv.FormatInt(cr.Totals.Referrals, 10), "")
	}
	// Dates are dates: settlesAt of the usd cycle.
	c := read(t, f, workbook.SummarySheet, "G3")
	if _, err := strconv.ParseFloat(c.raw, 64); err != nil || c.numFmt != "yyyy-mm-dd hh:mm:ss" {
		t.Errorf("settlesAt cell %+v", c)
	}
	if v, _ := f.GetCellValue(workbook.SummarySheet, "G3"); v != "2026-04-30 23:59:59" {
		t.Errorf("settlesAt shows %q", v)
	}

	// The usd cycle sheet: referrers in rank order, then unranked by refcode.
	s := "cycle-usd"
	check(s, "A1", excelize.CellTypeInlineString, "cycle-usd", "")
	check(s, "B2", excelize.CellTypeInlineString, "refcode", "")
	check(s, "A3", excelize.CellTypeNumber, "1", "")
	check(s, "B3", excelize.CellTypeInlineString, "alice", "")
	check(s, "C3", excelize.CellTypeInlineString, "alice@example.com", "")
	check(s, "E3", excelize.CellTypeNumber, "6666.67", "#,##0.00")
	check(s, "J3", excelize.CellTypeNumber, "123.4", "#,##0.00")
	// Formula-looking input stays text, never a formula.
	check(s, "B4", excelize.CellTypeInlineString, evil, "")
	check(s, "C4", excelize.CellTypeInlineString, "-mal@example.com", "")
	check(s, "N4", excelize.CellTypeInlineString, "+1 said hi", "")
	check(s, "B5", excelize.CellTypeInlineString, "carol", "")
	check(s, "A5", excelize.CellTypeUnset, "", "")
	check(s, "B6", excelize.CellTypeInlineString, "zed", "")
	// Then a blank row and the accounting trail.
	check(s, "A8", excelize.CellTypeInlineString, "seq", "")
	check(s, "A9", excelize.CellTypeNumber, "1", "")
	check(s, "C9", excelize.CellTypeInlineString, "in_1", "")
	check(s, "F9", excelize.CellTypeInlineString, "+bob@example.com", "")
	check(s, "G9", excelize.CellTypeNumber, "125", "#,##0.00")
	check(s, "H9", excelize.CellTypeNumber, "5", "#,##0.00")
	check(s, "K9", excelize.CellTypeNumber, "120", "#,##0.00")
	check(s, "L11", excelize.CellTypeBool, "1", "")
	if v, _ := f.GetCellValue(s, "B9"); v != time.Unix(1772755200, 0).UTC().Format("2006-01-02 15:04:05") {
		t.Errorf("paid at shows %q", v)
	}
	// Then the control totals.
	check(s, "A13", excelize.CellTypeInlineString, "control totals", "")
	check(s, "A14", excelize.CellTypeInlineString, "referrals", "")
	check(s, "B14", excelize.CellTypeNumber, "5", "")
	check(s, "B23", excelize.CellTypeNumber, "0", "#,##0.00") // remaining
	// jpy: no decimals.
	check("cycle-jpy", "E3", excelize.CellTypeNumber, "1200", "#,##0")
	check("cycle-jpy", "N6", excelize.CellTypeNumber, "50000", "#,##0") // pool before of the event

	// Frozen header rows and a filter on the referrers.
	for _, sh := range wantSheets {
		panes, err := f.GetPanes(sh)
		if err != nil {
			t.Fatal(err)
		}
		if !panes.Freeze || panes.YSplit != 2 {
			t.Errorf("%s panes %+v, want rows 1-2 frozen", sh, panes)
		}
	}
	if got := filterRef(t, f, s); got != "$A$2:$N$6" {
		t.Errorf("filter of %s = %q, want A2:N6", s, got)
	}
	if w, _ := f.GetColWidth(s, "C"); w < float64(len("alice@example.com")) {
		t.Errorf("email column width %v", w)
	}
	// A clawback candidate.
	check(workbook.ClawbackSheet, "A3", excelize.CellTypeInlineString, "clawback candidate", "")
	check(workbook.ClawbackSheet, "D3", excelize.CellTypeInlineString, "old@example.com", "")
	check(workbook.ClawbackSheet, "I3", excelize.CellTypeInlineString, "refunded", "")
	// Headers only on the change sheet (no previous snapshot).
	for _, sh := range []string{workbook.ChangesSheet} {
		rows := sheetRows(t, f, sh)
		if len(rows) != 2 {
			t.Errorf("%s has %d rows, want title and header", sh, len(rows))
		}
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func filterRef(t *testing.T, f *excelize.File, sheet string) string {
	t.Helper()
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" && dn.Scope == sheet {
			return dn.RefersTo[strings.Index(dn.RefersTo, "!")+1:]
		}
	}
	return ""
}

func TestWorkbookSameInputsSameBytes(t *testing.T) {
	res := testResult()
	var files [][]byte
	for range 2 {
		dir := t.TempDir()
		path := writeBook(t, dir, workbook.Input{Info: info, Result: res})
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("two workbooks of the same inputs differ")
	}
}

func TestWorkbookContinuesLongTablesOnNumberedSheets(t *testing.T) {
	defer func(n int) { workbook.MaxRows = n }(workbook.MaxRows)
	workbook.MaxRows = 10
	res := testResult()
	cr := &res.Cycles[0]
	cr.Leaderboard = nil
	for i := range 12 {
		cr.Leaderboard = append(cr.Leaderboard, pipeline.Entry{Rank: i + 1, Refcode: "r" + strconv.Itoa(i), Score: 1, Award: int64(i)})
	}
	dir := t.TempDir()
	path := writeBook(t, dir, workbook.Input{Info: info, Result: res})
	f := open(t, path)
	var seen []string
	var refcodes []string
	for _, name := range f.GetSheetList() {
		if name != "cycle-usd" && !strings.HasPrefix(name, "cycle-usd (") {
			continue
		}
		seen = append(seen, name)
		rows := sheetRows(t, f, name)
		if len(rows) > 10 {
			t.Errorf("%s has %d rows, over MaxRows", name, len(rows))
		}
		if rows[0][0] != "cycle-usd" {
			t.Errorf("%s A1 = %q", name, rows[0][0])
		}
		for _, r := range rows[1:] {
			if len(r) > 1 && strings.HasPrefix(r[1], "r") && r[1] != "refcode" {
				refcodes = append(refcodes, r[1])
			}
		}
		if len(seen) > 1 && rows[1][0] != "rank" && rows[1][0] != "seq" && rows[1][0] != "control totals" {
			t.Errorf("%s row 2 = %q, want the repeated header", name, rows[1])
		}
	}
	if len(seen) < 3 || seen[1] != "cycle-usd (2)" {
		t.Errorf("sheets %q", seen)
	}
	var want []string
	for i := range 12 {
		want = append(want, "r"+strconv.Itoa(i))
	}
	// carol and zed are unranked; the 12 ranked ones come first, in order.
	if !slices.Equal(refcodes[:12], want) {
		t.Errorf("refcodes across sheets %q", refcodes)
	}
}

func TestWorkbookChangesSheet(t *testing.T) {
	res := testResult()
	old := snapdiff.FromResult(pipeline.RunInfo{SnapshotID: "20260414T000000Z-000000000000"}, testResult())
	old.Cycles[0].Entries[0].Award = 600_000
	old.Cycles[0].Totals.Awarded = 933_333
	d := snapdiff.Compare(old, snapdiff.FromResult(info, res))
	dir := t.TempDir()
	path := writeBook(t, dir, workbook.Input{Info: info, Result: res, Changes: d})
	f := open(t, path)
	rows := sheetRows(t, f, workbook.ChangesSheet)
	if len(rows) != 4 {
		t.Fatalf("changes rows %q", rows)
	}
	if rows[2][0] != "cycle-usd" || rows[2][3] != "awarded" || rows[3][2] != "alice" || rows[3][3] != "award" {
		t.Errorf("changes %q", rows)
	}
	c := read(t, f, workbook.ChangesSheet, "G4")
	if c.typ != excelize.CellTypeUnset || c.raw != "666.67" || c.numFmt != "#,##0.00" {
		t.Errorf("award difference cell %+v", c)
	}
}

func TestWorkbookFailedWriteKeepsPreviousReport(t *testing.T) {
	dir := t.TempDir()
	prev := filepath.Join(dir, "report-20260414T000000Z-000000000000.xlsx")
	if err := os.WriteFile(prev, []byte("previous"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := testResult()
	for i := range 5000 {
		res.Cycles[0].Unranked = append(res.Cycles[0].Unranked, pipeline.Entry{Refcode: "u" + strconv.Itoa(i)})
	}
	if _, err := workbook.Write(ctx, dir, workbook.Input{Info: info, Result: res}); err == nil {
		t.Fatal("cancelled write succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != filepath.Base(prev) {
		t.Fatalf("dir after failed write: %v", ents)
	}
	path := writeBook(t, dir, workbook.Input{Info: info, Result: res})
	ents, _ = os.ReadDir(dir)
	if len(ents) != 2 || ents[1].Name() != filepath.Base(path) {
		t.Fatalf("dir after write: %v (the older report stays until the run has published)", ents)
	}
}

// Cycle ids that read like the fixed sheets get their own sheets: no fixed
// name can be a cycle id.
func TestWorkbookCycleIDsNeverTakeFixedSheets(t *testing.T) {
	res := testResult()
	res.Cycles[0].Cycle.ID, res.Cycles[1].Cycle.ID = "changes", "summary"
	path := writeBook(t, t.TempDir(), workbook.Input{Info: info, Result: res})
	f := open(t, path)
	want := []string{workbook.SummarySheet, "changes", "summary", workbook.SheetName(longID, 1), workbook.ClawbackSheet, workbook.ChangesSheet}
	if got := f.GetSheetList(); !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	if v, _ := f.GetCellValue("changes", "B3"); v != "alice" {
		t.Errorf("the cycle sheet \"changes\" B3 = %q, want its first referrer", v)
	}
}

// The workbook opens on the summary sheet, its tab selected, with no
// default "Sheet1" left, and only one tab selected.
func TestWorkbookOpensOnTheSummarySheet(t *testing.T) {
	path := writeBook(t, t.TempDir(), workbook.Input{Info: info, Result: testResult()})
	f := open(t, path)
	sheets := f.GetSheetList()
	if len(sheets) == 0 || sheets[0] != workbook.SummarySheet || slices.Contains(sheets, "Sheet1") {
		t.Fatalf("sheets = %q, want %q first and no Sheet1", sheets, workbook.SummarySheet)
	}
	if got := f.GetActiveSheetIndex(); got != 0 {
		t.Errorf("active sheet index = %d, want 0", got)
	}
	// Exactly one worksheet part has its tab selected: the summary's, the
	// one part whose first row is "snapshot" and the snapshot id.
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var selected []string
	for _, e := range zr.File {
		if !strings.HasPrefix(e.Name, "xl/worksheets/") || !strings.HasSuffix(e.Name, ".xml") {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`tabSelected="true"`)) || bytes.Contains(b, []byte(`tabSelected="1"`)) {
			if !bytes.Contains(b, []byte(info.SnapshotID)) || !bytes.Contains(b, []byte(">snapshot<")) {
				t.Errorf("%s has its tab selected but is not the summary", e.Name)
			}
			selected = append(selected, e.Name)
		}
	}
	if len(selected) != 1 {
		t.Errorf("worksheets with their tab selected: %q, want exactly the summary's", selected)
	}
}

func TestAwardDriftRows(t *testing.T) {
	res := testResult()
	pipeline.ApplySettled(res, []pipeline.SettledCycle{{CycleID: "cycle-usd", SnapshotID: "20260401T000000Z-000000000001", Currency: "usd",
		Awards: map[string]int64{"alice": 700_000, "carol": 300_000}}})
	path := writeBook(t, t.TempDir(), workbook.Input{Info: info, Result: res})
	f := open(t, path)
	rows := sheetRows(t, f, workbook.ClawbackSheet)
	got := map[string][]string{}
	for _, r := range rows {
		if len(r) > 2 && r[0] == "award drift" {
			got[r[2]] = r
		}
	}
	if len(got) != 3 {
		t.Fatalf("award drift rows %v, want alice, carol and the second referrer", got)
	}
	carol := got["carol"]
	if len(carol) < 9 || carol[1] != "cycle-usd" || !strings.Contains(carol[8], "clawback candidate") {
		t.Errorf("carol's drift row %q", carol)
	}
	if a := got["alice"]; len(a) < 9 || a[7] != "333.33" || !strings.Contains(a[8], "clawback candidate") {
		t.Errorf("alice's drift row %q: settled 7,000.00 against 6,666.67 now is a clawback candidate", a)
	}
	for ref, r := range got {
		if ref != "alice" && ref != "carol" && (len(r) < 9 || strings.Contains(r[8], "clawback")) {
			t.Errorf("%s: settled 0, paid less than the data gives, is no clawback candidate: %q", ref, r)
		}
	}
}

// Text that XML cannot hold as it is, text longer than a cell holds, and an
// amount beyond a double's exact digits, read back through excelize.
func TestWorkbookOddTextAndHugeAmounts(t *testing.T) {
	res := testResult()
	cr := &res.Cycles[0]
	odd := " <b>&amp; \"q\" 'a' _x0041_ 😀𝄞 é\x01\x1f\tend\n"
	long := strings.Repeat("ab😀", 20_000) // 80,000 UTF-16 units
	cr.Leaderboard[0].Refcode = odd
	cr.Leaderboard[0].AdminAction = &pipeline.AdminAction{ActionType: pipeline.Warning, Reason: long}
	cr.Events[0].Net = 12_345_678_901_234_567         // 17 significant digits
	cr.Events[1].Net = 999_999_999_999_999            // 15: still a number
	cr.Events[2].Gross = -(1_000_000_000_000_000 + 1) // beyond, negative
	path := writeBook(t, t.TempDir(), workbook.Input{Info: info, Result: res})
	f := open(t, path)
	s := "cycle-usd"
	want := strings.NewReplacer("\x01", "\uFFFD", "\x1f", "\uFFFD").Replace(odd)
	if c := read(t, f, s, "B3"); c.typ != excelize.CellTypeInlineString || c.raw != want {
		t.Errorf("odd refcode = %+v, want %q", c, want)
	}
	units := 0
	cut := strings.IndexFunc(long, func(r rune) bool {
		if r > 0xFFFF {
			units += 2
		} else {
			units++
		}
		return units > excelize.TotalCellChars
	})
	if c := read(t, f, s, "N3"); c.raw != long[:cut] {
		t.Errorf("long reason: %d bytes read back, want the first %d (32,767 UTF-16 units)", len(c.raw), cut)
	}
	check := func(ref string, typ excelize.CellType, raw string) {
		t.Helper()
		c := read(t, f, s, ref)
		if c.typ != typ || c.raw != raw {
			t.Errorf("%s = %+v, want type %v %q", ref, c, typ, raw)
		}
	}
	check("K9", excelize.CellTypeInlineString, "123456789012345.67")
	check("K10", excelize.CellTypeUnset, "9999999999999.99") // a number cell has no type
	check("G11", excelize.CellTypeInlineString, "-10000000000000.01")
}

// TestWorkbookSpoolSameBytes writes one workbook, with continuation sheets
// and changes, in every way the spool can go: not at all (it holds no
// bytes), everything before the comparison comes (LaterChanges waits for
// it), one sheet at a time beside the writer, and with the comparison
// given at once. The files are byte-identical.
func TestWorkbookSpoolSameBytes(t *testing.T) {
	defer func(n, s int) { workbook.MaxRows, workbook.SpoolBytes = n, s }(workbook.MaxRows, workbook.SpoolBytes)
	workbook.MaxRows = 10
	res := testResult()
	cr := &res.Cycles[0]
	for i := range 30 {
		cr.Leaderboard = append(cr.Leaderboard, pipeline.Entry{Rank: len(cr.Leaderboard) + 1, Refcode: "r" + strconv.Itoa(i), Score: 1, Award: int64(i)})
	}
	old := snapdiff.FromResult(pipeline.RunInfo{SnapshotID: "20260414T000000Z-000000000000"}, testResult())
	old.Cycles[0].Entries[0].Award = 600_000
	d := snapdiff.Compare(old, snapdiff.FromResult(info, res))

	var spool *workbook.Spool
	defer workbook.OnSpool(func(s *workbook.Spool) { spool = s })()
	write := func(spoolBytes int, in workbook.Input) ([]byte, int) {
		t.Helper()
		workbook.SpoolBytes = spoolBytes
		path := writeBook(t, t.TempDir(), in)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b, spool.Copied()
	}
	want, copied := write(0, workbook.Input{Info: info, Result: res, Changes: d})
	if copied != 0 {
		t.Fatalf("a spool of 0 bytes gave the writer %d sheets", copied)
	}
	sheets := open(t, writeBytes(t, want)).GetSheetList()
	changes := 0
	for _, name := range sheets {
		if strings.HasPrefix(name, workbook.ChangesSheet) {
			changes++
		}
	}
	if len(sheets)-changes < 6 || changes < 2 {
		t.Fatalf("sheets %q: want continuation sheets of a cycle and of the changes", sheets)
	}
	for _, c := range []struct {
		name       string
		spoolBytes int
		later      bool
		copied     int // -1: any
	}{
		{"before the comparison", 128 << 20, true, len(sheets) - changes},
		{"one sheet at a time", 1, true, -1},
		{"comparison at once", 128 << 20, false, -1},
	} {
		in := workbook.Input{Info: info, Result: res, Changes: d}
		if c.later {
			in.Changes = nil
			in.LaterChanges = func() *snapdiff.Diff {
				if c.copied >= 0 {
					<-spool.Idle() // every sheet but the changes deflated first
				}
				return d
			}
		}
		got, copied := write(c.spoolBytes, in)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the workbook differs from the writer's own", c.name)
		}
		if c.copied >= 0 && copied != c.copied {
			t.Errorf("%s: the writer took %d sheets from the spool, want %d", c.name, copied, c.copied)
		}
	}
	f := open(t, writeBytes(t, want))
	rows, err := f.GetRows(workbook.ChangesSheet)
	if err != nil || len(rows) < 3 || rows[2][0] != "cycle-usd" {
		t.Errorf("changes sheet %q, %v", rows, err)
	}
}

// writeBytes writes b into a file of its own and returns its path.
func writeBytes(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "book.xlsx")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWorkbookCarrySameBytes writes a workbook, then the next snapshot's
// beside it (CarryFrom) from the same result, from a result with one cycle
// changed, and with previous workbooks the carry must not use: each is
// byte-identical to the same workbook written with no previous one, and
// the sheets copied from the previous workbook are the unchanged ones.
func TestWorkbookCarrySameBytes(t *testing.T) {
	defer func(n int) { workbook.MaxRows = n }(workbook.MaxRows)
	workbook.MaxRows = 10
	big := func() *pipeline.Result {
		res := testResult()
		for c := range res.Cycles {
			cr := &res.Cycles[c]
			for i := range 30 {
				cr.Leaderboard = append(cr.Leaderboard, pipeline.Entry{Rank: len(cr.Leaderboard) + 1, Refcode: "r" + strconv.Itoa(i), Score: 1, Award: int64(i)})
			}
		}
		return res
	}
	var copied int
	write := func(dir, carryFrom string, inf pipeline.RunInfo, res *pipeline.Result) []byte {
		t.Helper()
		w, err := workbook.Write(context.Background(), dir, workbook.Input{Info: inf, Result: res, CarryFrom: carryFrom})
		if err != nil {
			t.Fatal(err)
		}
		if w.Sheets != len(open(t, w.Path).GetSheetList()) {
			t.Errorf("Write says %d sheets, the workbook has %d", w.Sheets, len(open(t, w.Path).GetSheetList()))
		}
		copied = w.Copied
		b, err := os.ReadFile(w.Path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	prevDir := t.TempDir()
	write(prevDir, "", info, big())
	if copied != 0 {
		t.Fatalf("a workbook with no previous one copied %d sheets", copied)
	}
	next := info
	next.SnapshotID = "20260416T000000Z-0123456789ab"
	sheets := len(open(t, writeBytes(t, write(t.TempDir(), "", next, big()))).GetSheetList())

	changed := big()
	changed.Cycles[0].Leaderboard[0].Award++
	for _, c := range []struct {
		name   string
		res    func() *pipeline.Result
		inf    pipeline.RunInfo
		copied func(n int) bool
	}{
		// All but the run summary and the changes (they name the snapshot).
		{"the same result", big, next, func(n int) bool { return n == sheets-2 }},
		// The changed cycle's first sheet (its continuation sheets are the same).
		{"one cycle changed", func() *pipeline.Result { return changed }, next, func(n int) bool { return n == sheets-3 }},
		{"other code", big, pipeline.RunInfo{SnapshotID: next.SnapshotID, AsOf: next.AsOf, CodeVersion: "other"}, func(n int) bool { return n == 0 }},
		{"a dirty tree", big, pipeline.RunInfo{SnapshotID: next.SnapshotID, AsOf: next.AsOf, CodeVersion: "test-dirty"}, func(n int) bool { return n == 0 }},
		// The same snapshot again (a re-run): its own workbook, every sheet.
		{"a re-run", big, info, func(n int) bool { return n == sheets }},
	} {
		want := write(t.TempDir(), "", c.inf, c.res())
		got := write(t.TempDir(), prevDir, c.inf, c.res())
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the workbook differs from the one written with no previous workbook", c.name)
		}
		if !c.copied(copied) {
			t.Errorf("%s: %d of %d sheets copied from the previous workbook", c.name, copied, sheets)
		}
		open(t, writeBytes(t, got)) // excelize reads it, CRCs checked
	}

	// The newest other workbook is the one read; one that is not a zip,
	// or whose records do not match its entries, is no previous workbook.
	for name, data := range map[string][]byte{
		"report-20260415T120000Z-0123456789ab.xlsx": []byte("not a zip"),
	} {
		if err := os.WriteFile(filepath.Join(prevDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want := write(t.TempDir(), "", next, big())
	if got := write(t.TempDir(), prevDir, next, big()); !bytes.Equal(got, want) || copied != 0 {
		t.Errorf("a broken newest workbook: %d sheets copied, same bytes %v", copied, bytes.Equal(got, want))
	}
}
