package reconcile_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/workbook"
)

type failingStripe struct{}

func (failingStripe) ReadStripe(context.Context) (pipeline.Stripe, error) {
	return pipeline.Stripe{}, errors.New("stripe is down")
}

// reviewReports lists the review reports (report-*) in dir.
func reviewReports(t *testing.T, dir string) []string {
	t.Helper()
	return entries(t, dir, "report-")
}

// Two fixture runs a day apart: each leaves its workbook and HTML report
// beside the CSVs, the second compares with the first, and a failed third
// run leaves the second's reports.
func TestRunWritesReviewReportsWithChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	p := fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)
	first := mustRun(t, p, &logs)
	if first.Changes != nil {
		t.Errorf("first run has changes %+v", first.Changes)
	}
	want := []string{"report-" + first.SnapshotID + ".html", "report-" + first.SnapshotID + ".xlsx"}
	if got := reviewReports(t, p.PrivateDir); !slices.Equal(got, want) {
		t.Fatalf("after the first run: %v, want %v", got, want)
	}

	p2 := fixturePlan(t, root, "2026-04-16T00:00:00Z", &logs)
	second := mustRun(t, p2, &logs)
	if second.Changes == nil || second.Changes.Old != first.SnapshotID || second.Changes.New != second.SnapshotID {
		t.Fatalf("second run's changes %+v, want against %s", second.Changes, first.SnapshotID)
	}
	if second.Changes.Empty() {
		t.Error("a day later nothing changed (statuses, pending amounts move with asOf in the fixtures)")
	}
	want = []string{"report-" + second.SnapshotID + ".html", "report-" + second.SnapshotID + ".xlsx"}
	if got := reviewReports(t, p.PrivateDir); !slices.Equal(got, want) {
		t.Fatalf("after the second run: %v, want %v", got, want)
	}
	html, err := os.ReadFile(filepath.Join(p.PrivateDir, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "since "+first.SnapshotID) {
		t.Error("the HTML report does not carry the changes since the first snapshot")
	}

	p3 := fixturePlan(t, root, "2026-04-17T00:00:00Z", &logs)
	p3.Stripe = failingStripe{}
	if _, err := reconcile.Run(t.Context(), p3); err == nil {
		t.Fatal("run with a failing source succeeded")
	}
	if got := reviewReports(t, p.PrivateDir); !slices.Equal(got, want) {
		t.Fatalf("after a failed run: %v, want the second run's %v", got, want)
	}
}

// A previous snapshot that cannot be read (its cycles document is not
// JSON) does not fail the next run: the run logs it and its reports show
// no changes.
func TestUnreadablePreviousSnapshotMeansNoChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	first := mustRun(t, fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs), &logs)
	cycles := filepath.Join(root, "public", "snapshots", first.SnapshotID, "cycles.json")
	if err := os.WriteFile(cycles, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	second := mustRun(t, fixturePlan(t, root, "2026-04-16T00:00:00Z", &logs), &logs)
	if second.Changes != nil {
		t.Errorf("changes %+v against an unreadable snapshot", second.Changes)
	}
	if !strings.Contains(logs.String(), "previous snapshot not read; the reports show no changes") {
		t.Errorf("the run did not say that the previous snapshot was not read:\n%s", logs.String())
	}
}

// The workbook of a fixture run, read back with excelize, holds the
// pipeline's numbers: every referrer's award and revenue as numbers with
// the currency's format, every accounting line's net, and the totals.
func TestRunWorkbookHoldsTheResult(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	p := fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)
	rep := mustRun(t, p, &logs)
	f, err := excelize.OpenFile(filepath.Join(p.PrivateDir, workbook.FileName(rep.SnapshotID)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw := excelize.Options{RawCellValue: true}
	num := func(sheet string, col, row int) (string, string) {
		t.Helper()
		ref, _ := excelize.CoordinatesToCellName(col, row)
		typ, _ := f.GetCellType(sheet, ref)
		if typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
			t.Errorf("%s!%s is %v, want a number", sheet, ref, typ)
		}
		v, _ := f.GetCellValue(sheet, ref, raw)
		st, _ := f.GetCellStyle(sheet, ref)
		style, _ := f.GetStyle(st)
		nf := ""
		if style != nil && style.CustomNumFmt != nil {
			nf = *style.CustomNumFmt
		}
		return v, nf
	}
	decimal := func(cur string, minor int64) string {
		s := pipeline.FormatDecimal(cur, minor)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	var entries, events int // checked, so that an empty result cannot pass
	for _, cr := range rep.Result.Cycles {
		entries, events = entries+len(cr.Leaderboard), events+len(cr.Events)
		sheet, cur := workbook.SheetName(cr.Cycle.ID, 1), cr.Cycle.Rules.Currency
		for i, e := range cr.Leaderboard {
			row := 3 + i
			if rc, _ := f.GetCellValue(sheet, "B"+strconv.Itoa(row)); rc != e.Refcode {
				t.Fatalf("%s row %d refcode %q, want %q", sheet, row, rc, e.Refcode)
			}
			if v, nf := num(sheet, 5, row); v != decimal(cur, e.Award) || nf != "#,##0.00" {
				t.Errorf("%s %s award %q (%s), want %s", sheet, e.Refcode, v, nf, decimal(cur, e.Award))
			}
			if v, _ := num(sheet, 10, row); v != decimal(cur, e.Revenue) {
				t.Errorf("%s %s revenue %q, want %s", sheet, e.Refcode, v, decimal(cur, e.Revenue))
			}
		}
		trail := 3 + len(cr.Leaderboard) + len(cr.Unranked) + 2 // the blank row, the trail's header
		for k, ev := range cr.Events {
			row := trail + k
			if inv, _ := f.GetCellValue(sheet, "C"+strconv.Itoa(row)); inv != ev.InvoiceID {
				t.Fatalf("%s row %d invoice %q, want %q", sheet, row, inv, ev.InvoiceID)
			}
			if v, _ := num(sheet, 11, row); v != decimal(cur, ev.Net) {
				t.Errorf("%s %s net %q, want %s", sheet, ev.InvoiceID, v, decimal(cur, ev.Net))
			}
		}
		totals := trail + len(cr.Events) + 1
		if label, _ := f.GetCellValue(sheet, "A"+strconv.Itoa(totals)); label != "control totals" {
			t.Fatalf("%s row %d = %q, want the control totals", sheet, totals, label)
		}
		if v, _ := num(sheet, 2, totals+9); v != decimal(cur, cr.Totals.Awarded) {
			t.Errorf("%s awarded %q, want %s", sheet, v, decimal(cur, cr.Totals.Awarded))
		}
	}
	if entries == 0 || events == 0 {
		t.Errorf("checked %d leaderboard entries and %d accounting lines of %d cycles; the fixtures have both", entries, events, len(rep.Result.Cycles))
	}
}

// The next night's workbook copies the unchanged sheets of the previous
// one (PRIVATE_DIR, workbook's carry): it is byte-identical to the same
// night's workbook made with no previous workbook beside it.
func TestNextNightWorkbookSameBytes(t *testing.T) {
	t.Parallel()
	nights := func(removePrevious bool) []byte {
		root := t.TempDir()
		var logs bytes.Buffer
		first := mustRun(t, fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs), &logs)
		p := fixturePlan(t, root, "2026-04-16T00:00:00Z", &logs)
		prev := filepath.Join(p.PrivateDir, workbook.FileName(first.SnapshotID))
		if removePrevious {
			if err := os.Remove(prev); err != nil {
				t.Fatal(err)
			}
		} else if zr, err := zip.OpenReader(prev); err != nil || !strings.HasPrefix(zr.Comment, "refrecon workbook sheets") {
			t.Fatalf("the first workbook records no sheets (%v)", err)
		} else {
			zr.Close()
		}
		logs.Reset()
		second := mustRun(t, p, &logs)
		// The run says how many worksheets it copied: some, unless the
		// previous workbook is gone.
		var copied *int
		for line := range strings.Lines(logs.String()) {
			var l struct {
				Output string `json:"output"`
				Copied *int   `json:"sheets_copied"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Output == "workbook" {
				copied = l.Copied
			}
		}
		if copied == nil || (*copied > 0) == removePrevious {
			got := "missing"
			if copied != nil {
				got = strconv.Itoa(*copied)
			}
			t.Errorf("previous workbook removed %v: the run's sheets_copied is %s", removePrevious, got)
		}
		b, err := os.ReadFile(filepath.Join(p.PrivateDir, workbook.FileName(second.SnapshotID)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(nights(false), nights(true)) {
		t.Error("the next night's workbook differs from the one made with no previous workbook")
	}
}
