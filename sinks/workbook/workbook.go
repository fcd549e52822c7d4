// Package workbook writes finance's review workbook (SPEC 3.3):
// PRIVATE_DIR/report-<snapshot>.xlsx, an Office Open XML spreadsheet made
// with github.com/xuri/excelize/v2, written row by row through its
// StreamWriter so that a 1M-referral run never holds the workbook in memory
// (the benchmark in workbook_bench_test.go reports bytes per row and the peak
// heap; docs/performance.md has the figures).
//
// Sheets, in order:
//
//   - "run summary": the snapshot id and asOf, then one row per cycle: status,
//     isFinal, settlesAt, window, pool, awarded, remaining and the control
//     totals;
//   - one sheet per cycle, named after the cycle id (an id over 31
//     characters, Excel's limit, becomes its first 22 characters, "~" and the
//     first 8 hex digits of its sha256; the full id is always in A1): the
//     referrers in rank order (then the unranked ones, refcode order) with
//     award, metrics, email and admin action; then the accounting trail (one
//     line per revenue event); then the control totals;
//   - "clawbacks and drift": clawback candidates and award drift (SPEC 2.7);
//   - "changes since previous": what changed since the previous snapshot
//     (package snapdiff).
//
// A table longer than a sheet holds (MaxRows) continues on sheets named with
// " (2)", " (3)", ... after the name, each repeating A1 and the table header.
// No name this package makes can be a cycle id (each has a space), and
// Excel's case-insensitive sheet names cannot collide with cycle ids, which
// are lowercase.
//
// Cell types: money is a number in the currency's major unit with a number
// format of the currency's exponent (pipeline.CurrencyExponent, as the CSV
// reports: "#,##0.00" for usd, "#,##0" for jpy, "#,##0.000" for kwd); the
// number's text in the file is the exact decimal of pipeline.FormatDecimal
// (amounts up to 15 significant digits, Excel's precision; a larger one is
// written as text rather than rounded). Counts and ranks are integers, times
// are Excel dates (UTC) formatted yyyy-mm-dd hh:mm:ss, booleans are
// booleans. Text from the inputs is written as inline strings, which a
// spreadsheet never evaluates, so "=HYPERLINK(...)" in a refcode stays text.
// Each sheet's header rows are frozen, its first table has a filter, and
// columns are sized to their content (the first SizeRows rows of each
// table, capped at 60 characters).
//
// The same inputs give the same bytes: excelize stamps no clock, and the
// archive is written in entry-name order with every entry dated asOf (see
// sortedZip). The file is written atomically (package privatefile); the run removes
// the reports of older snapshots once it has published (review.RemoveOlder).
package workbook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/internal/privatefile"
	"github.com/refrecon/refrecon/sinks/internal/review"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
)

// Input is what the report shows.
type Input = review.Input

// FileName is the report's name for a snapshot.
func FileName(snapshotID string) string { return review.FileName(snapshotID, review.Workbook) }

// Sheet names that are not cycles.
const (
	SummarySheet   = "run summary"
	ClawbackSheet  = "clawbacks and drift"
	ChangesSheet   = "changes since previous"
	maxSheetName   = 31
	maxColumnWidth = 60
)

// SizeRows is how many rows of each table the column widths are fitted to.
const SizeRows = 10_000

// MaxRows is how many rows a sheet holds before a table continues on the
// next sheet: Excel's limit. Tests lower it.
var MaxRows = 1 << 20

// RemoveOlder removes the workbooks of every snapshot but snapshotID from
// dir. A run calls it once it has published snapshotID, so that a failed
// run leaves the previous report in place.
func RemoveOlder(dir, snapshotID string) error {
	return review.RemoveOlder(dir, snapshotID, review.Workbook)
}

// Write writes dir/report-<snapshot>.xlsx and returns its path.
func Write(ctx context.Context, dir string, in Input) (string, error) {
	if in.Result == nil {
		return "", errors.New("write workbook: no result")
	}
	path, err := privatefile.Write(dir, FileName(in.Info.SnapshotID), func(f *privatefile.File) error {
		return write(ctx, f, dir, in)
	})
	if err != nil {
		return "", fmt.Errorf("write workbook: %w", err)
	}
	return path, nil
}

// book is one workbook being written.
type book struct {
	ctx    context.Context
	f      *excelize.File
	in     Input
	styles styles
}

type styles struct {
	header, title, date, integer int
	money                        map[int]int // currency exponent -> style
}

func write(ctx context.Context, out *privatefile.File, dir string, in Input) error {
	f := excelize.NewFile(excelize.Options{TmpDir: dir})
	defer f.Close()
	b := &book{ctx: ctx, f: f, in: in}
	if err := b.makeStyles(); err != nil {
		return err
	}
	asOf := in.Result.AsOf.UTC().Format(time.RFC3339)
	if err := f.SetDocProps(&excelize.DocProperties{Creator: "refrecon", Title: "refrecon report " + in.Info.SnapshotID,
		Created: asOf, Modified: asOf}); err != nil {
		return err
	}
	// The default sheet goes, and the first sheet becomes the active one,
	// before any sheet is streamed: DeleteSheet and SetActiveSheet read
	// every worksheet of the file, which for a streamed one means decoding
	// its whole XML back into memory (excelize's workSheetReader), and the
	// save then encodes it again, only to write the stream instead. At 100k
	// referrals that was 3.6 GB allocated and 2.3 GB peak RSS
	// (docs/performance.md, change 12).
	if _, err := f.NewSheet(SummarySheet); err != nil {
		return err
	}
	if err := f.DeleteSheet("Sheet1"); err != nil {
		return err
	}
	f.SetActiveSheet(0)
	if err := b.summary(); err != nil {
		return fmt.Errorf("sheet %q: %w", SummarySheet, err)
	}
	for i := range in.Result.Cycles {
		cr := &in.Result.Cycles[i]
		if err := b.cycle(cr); err != nil {
			return fmt.Errorf("cycle %s: %w", cr.Cycle.ID, err)
		}
	}
	if err := b.clawbacks(); err != nil {
		return fmt.Errorf("sheet %q: %w", ClawbackSheet, err)
	}
	if err := b.changes(); err != nil {
		return fmt.Errorf("sheet %q: %w", ChangesSheet, err)
	}
	zw, err := newSortedZip(out, dir, in.Result.AsOf.UTC())
	if err != nil {
		return err
	}
	f.SetZipWriter(func(_ io.Writer) excelize.ZipWriter { return zw })
	_, err = f.WriteTo(io.Discard)
	return err
}

func (b *book) makeStyles() error {
	var err error
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = b.f.NewStyle(s)
		return id
	}
	b.styles.header = mk(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE4EE"}}})
	b.styles.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}})
	dateFmt := "yyyy-mm-dd hh:mm:ss"
	b.styles.date = mk(&excelize.Style{CustomNumFmt: &dateFmt})
	b.styles.integer = mk(&excelize.Style{NumFmt: 1})
	b.styles.money = map[int]int{}
	for _, exp := range []int{0, 2, 3} {
		b.styles.money[exp] = mk(&excelize.Style{CustomNumFmt: ptr(moneyFormat(exp))})
	}
	return err
}

func ptr[T any](v T) *T { return &v }

// moneyFormat is the number format for a currency exponent: "#,##0.00".
func moneyFormat(exp int) string {
	if exp == 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", exp)
}

// money is a money cell: a number in the major unit with the currency's
// format.
func (b *book) money(currency string, minor int64) excelize.Cell {
	exp := pipeline.CurrencyExponent(currency)
	s := pipeline.FormatDecimal(currency, minor)
	style, ok := b.styles.money[exp]
	if !ok {
		style = b.styles.money[2]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || strconv.FormatFloat(v, 'f', exp, 64) != s {
		return excelize.Cell{Value: s} // beyond a double's exact decimals: text, never rounded
	}
	return excelize.Cell{StyleID: style, Value: v}
}

func (b *book) date(unix int64) any {
	if unix == 0 {
		return nil
	}
	return excelize.Cell{StyleID: b.styles.date, Value: time.Unix(unix, 0).UTC()}
}

func (b *book) timeCell(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return excelize.Cell{StyleID: b.styles.date, Value: t.UTC()}
}

// text is a string from the inputs: an inline string, never a formula.
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SheetName is the sheet name of a cycle id's n-th sheet (n >= 1): the id
// when it fits in 31 characters, else its first characters, "~" and 8 hex
// digits of its sha256; continuation sheets add " (n)".
func SheetName(id string, n int) string {
	suffix := ""
	if n > 1 {
		suffix = " (" + strconv.Itoa(n) + ")"
	}
	if len(id)+len(suffix) <= maxSheetName {
		return id + suffix
	}
	sum := sha256.Sum256([]byte(id))
	return id[:maxSheetName-9-len(suffix)] + "~" + hex.EncodeToString(sum[:4]) + suffix
}

// sheet writes the rows of one logical sheet, continuing on numbered sheets
// when MaxRows is reached. Row 1 of every part is the title; a table's
// header is repeated at the top of a continuation.
type sheet struct {
	b      *book
	base   string // cycle id or fixed name
	part   int
	sw     *excelize.StreamWriter
	name   string
	row    int // last row written
	title  []any
	widths []float64
	header []any // the current table's header (nil between tables)
	// filter: the first table of the part (header row, last row, columns)
	filterHead, filterLast, filterCols int
	inFirst                            bool
}

func (b *book) newSheet(base string, title []any, widths []float64) (*sheet, error) {
	s := &sheet{b: b, base: base, title: title, widths: widths}
	return s, s.next()
}

func (s *sheet) next() error {
	if s.sw != nil {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.part++
	s.name = SheetName(s.base, s.part)
	if _, err := s.b.f.NewSheet(s.name); err != nil {
		return err
	}
	sw, err := s.b.f.NewStreamWriter(s.name)
	if err != nil {
		return err
	}
	s.sw, s.row, s.filterHead, s.filterLast, s.inFirst = sw, 0, 0, 0, false
	for i, w := range s.widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 2, TopLeftCell: "A3", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A3", ActiveCell: "A3", Pane: "bottomLeft"}}}); err != nil {
		return err
	}
	if err := s.put(s.title, s.b.styles.title); err != nil {
		return err
	}
	if s.header != nil {
		return s.startTable(s.header)
	}
	return nil
}

func (s *sheet) put(values []any, rowStyle int) error {
	s.row++
	cell, _ := excelize.CoordinatesToCellName(1, s.row)
	var opts []excelize.RowOpts
	if rowStyle != 0 {
		opts = append(opts, excelize.RowOpts{StyleID: rowStyle})
	}
	return s.sw.SetRow(cell, values, opts...)
}

// startTable writes a table's header row (on a new part when this one is
// full).
func (s *sheet) startTable(header []any) error {
	if s.row+2 > MaxRows {
		s.header = nil
		if err := s.next(); err != nil {
			return err
		}
	}
	s.header = header
	if err := s.put(header, s.b.styles.header); err != nil {
		return err
	}
	if s.filterHead == 0 {
		s.filterHead, s.filterLast, s.filterCols, s.inFirst = s.row, s.row, len(header), true
	}
	return nil
}

// endTable ends the current table; the next rows are not repeated headers.
func (s *sheet) endTable() { s.header, s.inFirst = nil, false }

// add writes a row of the current table.
func (s *sheet) add(values []any) error {
	if s.row+1 > MaxRows {
		if err := s.next(); err != nil {
			return err
		}
	}
	if s.row&4095 == 0 {
		if err := s.b.ctx.Err(); err != nil {
			return err
		}
	}
	if err := s.put(values, 0); err != nil {
		return err
	}
	if s.inFirst {
		s.filterLast = s.row
	}
	return nil
}

func (s *sheet) blank() error {
	if s.row+1 > MaxRows {
		return nil
	}
	s.row++
	return nil
}

func (s *sheet) flush() error {
	if s.filterHead != 0 {
		last, _ := excelize.CoordinatesToCellName(s.filterCols, max(s.filterLast, s.filterHead+1))
		first, _ := excelize.CoordinatesToCellName(1, s.filterHead)
		// The stream writer writes the worksheet's autoFilter at Flush.
		if err := s.b.f.AutoFilter(s.name, first+":"+last, nil); err != nil {
			return err
		}
	}
	err := s.sw.Flush()
	s.sw = nil
	return err
}

// widthOf is a cell value's display width in characters.
func widthOf(v any) float64 {
	switch v := v.(type) {
	case nil:
		return 0
	case excelize.Cell:
		switch x := v.Value.(type) {
		case time.Time:
			return 19
		case float64:
			return float64(len(strconv.FormatFloat(x, 'f', 2, 64))*4/3 + 1)
		default:
			return widthOf(x)
		}
	case string:
		return float64(utf8.RuneCountInString(v))
	case bool:
		return 5
	default:
		return float64(len(fmt.Sprint(v)))
	}
}

// sizer sizes columns from the rows that will be written.
type sizer []float64

func (z *sizer) fit(values []any) {
	for len(*z) < len(values) {
		*z = append(*z, 8)
	}
	for i, v := range values {
		if w := widthOf(v) + 2; w > (*z)[i] {
			(*z)[i] = min(w, maxColumnWidth)
		}
	}
}

func (b *book) summary() error {
	res := b.in.Result
	title := []any{"snapshot", b.in.Info.SnapshotID, "asOf", b.timeCell(res.AsOf), "code version", text(b.in.Info.CodeVersion)}
	header := strs("cycle id", "display name", "award model", "currency", "status", "isFinal", "settlesAt",
		"start", "end", "pool", "awarded", "remaining", "referrals", "conversions", "pending conversions",
		"revenue", "pending revenue", "ranked referrers", "qualified referrers")
	rows := make([][]any, 0, len(res.Cycles))
	for _, cr := range res.Cycles {
		r, t, cur := cr.Cycle.Rules, cr.Totals, cr.Cycle.Rules.Currency
		rows = append(rows, []any{cr.Cycle.ID, text(cr.Cycle.DisplayName), string(r.AwardModel), cur, string(cr.Status), cr.IsFinal,
			b.timeCell(cr.SettlesAt), b.timeCell(r.StartTime), b.timeCell(r.EndTime),
			b.money(cur, r.AwardPool.Amount), b.money(cur, t.Awarded), b.money(cur, cr.AwardPoolRemaining),
			t.Referrals, t.Conversions, t.PendingConversions, b.money(cur, t.Revenue), b.money(cur, t.PendingRevenue),
			t.RankedReferrers, t.QualifiedReferrers})
	}
	return b.table(SummarySheet, title, header, rows)
}

func strs(names ...string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

var (
	referrerHeader = strs("rank", "refcode", "referrer email", "qualified", "award", "score", "referrals", "conversions",
		"pending conversions", "revenue", "pending revenue", "final score boost", "admin action", "admin action reason")
	trailHeader = strs("seq", "paid at", "invoice id", "customer id", "refcode", "referee email", "gross", "refunds",
		"credit notes", "disputes", "net", "pending", "accumulated revenue", "pool before", "claim")
)

func (b *book) cycle(cr *pipeline.CycleResult) error {
	res := b.in.Result
	cur := cr.Cycle.Rules.Currency
	emails := make(map[string]string, len(res.Referrers))
	for _, u := range res.Referrers {
		if _, dup := emails[u.Refcode]; !dup {
			emails[u.Refcode] = u.Email
		}
	}
	scoreIsMoney := !(cr.Cycle.Rules.AwardModel == pipeline.PieSplit && cr.Cycle.Rules.ScoreBy == pipeline.ScoreByConversions)
	unranked := slices.Clone(cr.Unranked)
	slices.SortStableFunc(unranked, func(a, b pipeline.Entry) int { return strings.Compare(a.Refcode, b.Refcode) })
	referrer := func(e *pipeline.Entry, row []any) []any {
		var rank, score, boost, action, reason any
		if e.Rank > 0 {
			rank = e.Rank
		}
		if scoreIsMoney {
			score = b.money(cur, e.Score)
		} else {
			score = e.Score
		}
		if cr.Cycle.Rules.AwardModel == pipeline.PieSplit && e.BoostDen != 0 {
			boost = float64(e.BoostNum) / float64(e.BoostDen) // a display ratio, not money
		}
		if a := e.AdminAction; a != nil {
			action, reason = string(a.ActionType), text(a.Reason)
		}
		return append(row[:0], rank, text(e.Refcode), text(emails[e.Refcode]), e.Qualified, b.money(cur, e.Award), score,
			e.Referrals, e.Conversions, e.PendingConversions, b.money(cur, e.Revenue), b.money(cur, e.PendingRevenue),
			boost, action, reason)
	}
	event := func(i int, ev *pipeline.AccountingLine, row []any) []any {
		return append(row[:0], i+1, b.date(ev.PaidAt), text(ev.InvoiceID), text(ev.CustomerID), text(ev.Refcode),
			text(ev.RefereeEmail), b.money(cur, ev.Gross), b.money(cur, ev.Refunded), b.money(cur, ev.Credited),
			b.money(cur, ev.Disputed), b.money(cur, ev.Net), ev.Pending, b.money(cur, ev.AccumulatedRevenue),
			b.money(cur, ev.PoolBefore), b.money(cur, ev.Claim))
	}
	t := cr.Totals
	totals := [][]any{
		{"control totals"},
		{"referrals", t.Referrals}, {"conversions", t.Conversions}, {"pending conversions", t.PendingConversions},
		{"revenue", b.money(cur, t.Revenue)}, {"pending revenue", b.money(cur, t.PendingRevenue)},
		{"ranked referrers", t.RankedReferrers}, {"qualified referrers", t.QualifiedReferrers},
		{"pool", b.money(cur, cr.Cycle.Rules.AwardPool.Amount)}, {"awarded", b.money(cur, t.Awarded)},
		{"remaining", b.money(cur, cr.AwardPoolRemaining)},
	}

	// Size the columns from the first SizeRows rows of each table (the
	// widest values are the top of the leaderboard's amounts; emails and
	// ids vary little in length), so that sizing does not build every row
	// twice.
	var z sizer
	z.fit(referrerHeader)
	z.fit(trailHeader)
	var row []any
	for _, list := range [][]pipeline.Entry{cr.Leaderboard, unranked} {
		for i := range list[:min(len(list), SizeRows)] {
			row = referrer(&list[i], row)
			z.fit(row)
		}
	}
	for i := range cr.Events[:min(len(cr.Events), SizeRows)] {
		row = event(i, &cr.Events[i], row)
		z.fit(row)
	}
	for _, r := range totals {
		z.fit(r)
	}
	title := []any{cr.Cycle.ID, text(cr.Cycle.DisplayName), string(cr.Cycle.Rules.AwardModel), cur, string(cr.Status)}
	z[0] = max(z[0], min(widthOf(cr.Cycle.ID), maxColumnWidth))

	s, err := b.newSheet(cr.Cycle.ID, title, z)
	if err != nil {
		return err
	}
	if err := s.startTable(referrerHeader); err != nil {
		return err
	}
	for _, list := range [][]pipeline.Entry{cr.Leaderboard, unranked} {
		for i := range list {
			if err := s.add(referrer(&list[i], row)); err != nil {
				return err
			}
		}
	}
	s.endTable()
	if err := s.blank(); err != nil {
		return err
	}
	if err := s.startTable(trailHeader); err != nil {
		return err
	}
	for i := range cr.Events {
		if err := s.add(event(i, &cr.Events[i], row)); err != nil {
			return err
		}
	}
	s.endTable()
	if err := s.blank(); err != nil {
		return err
	}
	for i, r := range totals {
		if i == 0 {
			err = s.startTable(r)
		} else {
			err = s.add(r)
		}
		if err != nil {
			return err
		}
	}
	return s.flush()
}

var clawbackHeader = strs("kind", "cycle id", "refcode", "referee email", "referred at", "settled award", "current award",
	"drift", "reason")

func (b *book) clawbacks() error {
	title := []any{"clawback candidates and award drift (SPEC 2.7)", b.in.Info.SnapshotID}
	return b.table(ClawbackSheet, title, clawbackHeader, clawbackRows(b))
}

// table writes a sheet of one table: title, header, rows.
func (b *book) table(name string, title, header []any, rows [][]any) error {
	var z sizer
	z.fit(header)
	for _, r := range rows {
		z.fit(r)
	}
	s, err := b.newSheet(name, title, z)
	if err != nil {
		return err
	}
	if err := s.startTable(header); err != nil {
		return err
	}
	for _, r := range rows {
		if err := s.add(r); err != nil {
			return err
		}
	}
	return s.flush()
}

// clawbackRows are the rows of the clawback sheet: every referral row the
// pipeline flags as a clawback candidate (rewarded, converts nowhere any
// more), with the reason that stopped it; then the award drift of every
// settled cycle (pipeline.ApplySettled): one row per referrer with a
// settled or a current award, positive drift marked as a clawback candidate.
func clawbackRows(b *book) [][]any {
	var rows [][]any
	for i := range b.in.Result.Decisions {
		d := &b.in.Result.Decisions[i]
		if !d.Clawback {
			continue
		}
		rows = append(rows, []any{"clawback candidate", nil, text(d.Row.Refcode), text(d.Row.Email), b.date(d.ReferredAt),
			nil, nil, nil, text(d.Reason)})
	}
	for _, s := range b.in.Result.Settled {
		for _, d := range s.Drift {
			reason := "settled from " + s.SnapshotID
			if d.Clawback {
				reason += "; paid more than the current data gives: clawback candidate"
			}
			rows = append(rows, []any{"award drift", s.CycleID, text(d.Refcode), nil, nil,
				b.money(s.Currency, d.Settled), b.money(s.Currency, d.Current), b.money(s.Currency, d.Drift), reason})
		}
	}
	return rows
}

var changesHeader = strs("cycle id", "change", "refcode or email", "field", "old", "new", "difference")

func (b *book) changes() error {
	d := b.in.Changes
	var title []any
	if d == nil {
		title = []any{"changes since the previous snapshot", "no previous snapshot"}
	} else {
		title = []any{"changes since", d.Old, "to", d.New, d.Headline()}
	}
	return b.table(ChangesSheet, title, changesHeader, changeRows(b, d))
}

func changeRows(b *book, d *snapdiff.Diff) [][]any {
	if d == nil {
		return nil
	}
	var rows [][]any
	for _, c := range d.Cycles {
		cur := c.Currency
		switch {
		case c.Added:
			rows = append(rows, []any{c.CycleID, "cycle added"})
		case c.Removed:
			rows = append(rows, []any{c.CycleID, "cycle removed"})
		}
		if c.Status != nil {
			rows = append(rows, []any{c.CycleID, "status", nil, "status", c.Status.Old, c.Status.New})
		}
		if c.IsFinal != nil {
			rows = append(rows, []any{c.CycleID, "status", nil, "isFinal", c.IsFinal.Old, c.IsFinal.New})
		}
		for _, t := range c.Totals {
			if t.Money {
				rows = append(rows, []any{c.CycleID, "total", nil, t.Field, b.money(cur, t.Old), b.money(cur, t.New), b.money(cur, t.Delta())})
			} else {
				rows = append(rows, []any{c.CycleID, "total", nil, t.Field, t.Old, t.New, t.Delta()})
			}
		}
		for _, m := range c.Moves {
			kind := "leaderboard"
			switch {
			case !m.OldQualified && m.NewQualified:
				kind = "entered qualified set"
			case m.OldQualified && !m.NewQualified:
				kind = "left qualified set"
			}
			if m.OldRank != m.NewRank {
				rows = append(rows, []any{c.CycleID, kind, text(m.Refcode), "rank", rankCell(m.OldRank), rankCell(m.NewRank)})
			}
			if m.OldAward != m.NewAward {
				rows = append(rows, []any{c.CycleID, kind, text(m.Refcode), "award", b.money(cur, m.OldAward), b.money(cur, m.NewAward), b.money(cur, m.AwardDelta())})
			}
			if m.OldScore != m.NewScore {
				rows = append(rows, []any{c.CycleID, kind, text(m.Refcode), "score", m.OldScore, m.NewScore, m.NewScore - m.OldScore})
			}
			if m.OldQualified != m.NewQualified {
				rows = append(rows, []any{c.CycleID, kind, text(m.Refcode), "qualified", m.OldQualified, m.NewQualified})
			}
		}
	}
	for _, r := range d.Rows {
		kind := "referral row"
		switch {
		case r.Added:
			kind = "referral row added"
		case r.Removed:
			kind = "referral row removed"
		}
		if r.Outcome.Old != r.Outcome.New {
			rows = append(rows, []any{nil, kind, text(r.Email), "outcome", text(r.Outcome.Old), text(r.Outcome.New)})
		}
		for _, c := range r.Cycles {
			rows = append(rows, []any{c.CycleID, kind, text(r.Email), "eligibility", text(c.Old), text(c.New)})
		}
	}
	return rows
}

func rankCell(r int) any {
	if r == 0 {
		return "unranked"
	}
	return r
}
