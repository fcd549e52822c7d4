// Package workbook writes finance's review workbook (SPEC 3.3):
// PRIVATE_DIR/report-<snapshot>.xlsx, an Office Open XML spreadsheet made
// with github.com/xuri/excelize/v2: excelize makes the styles, the workbook,
// the content types and every worksheet but its rows (sheet views, frozen
// panes, column widths, filter), through its StreamWriter with one
// placeholder row; the rows themselves are made by this package's row
// encoder (encode.go) while the archive is written, row by row, so that a
// 1M-referral run never holds the workbook in memory.
//
// The encoder is hand-written code that excelize already has
// (StreamWriter.SetRow), for a measured reason: at 1M referrals (about 4.2M
// rows) SetRow was 14 s of the workbook's 28.5 s of CPU, boxing every cell
// (about 85 allocations per row); with the encoder (and the archive written
// without a scratch file, see archive) BenchmarkWorkbook12Cycles went from
// 21.9M allocations, 666 MB and 2.0-2.2 s of CPU per op to 15k, 5.6 MB and
// 0.27-0.32 s (docs/performance.md, change 16; docs/decisions.md). It writes
// the bytes SetRow writes for the same values: TestEncoderMatchesExcelize
// and FuzzInlineString hold it to excelize's output, and the tests read
// every workbook back through excelize.
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
// (amounts under 10^15 minor units, at most 15 significant digits, Excel's
// precision; a larger one is written as that decimal's text rather than
// rounded). Counts and ranks are integers, times
// are Excel dates (UTC) formatted yyyy-mm-dd hh:mm:ss, booleans are
// booleans. Text from the inputs is written as inline strings, which a
// spreadsheet never evaluates, so "=HYPERLINK(...)" in a refcode stays text.
// Each sheet's header rows are frozen, its first table has a filter, and
// columns are sized to their content (the first SizeRows rows of each
// table, capped at 60 characters).
//
// The same inputs give the same bytes: excelize stamps no clock, and the
// archive is written in entry-name order with every entry dated asOf (see
// archive). Given the comparison with the previous snapshot later
// (Input.LaterChanges, as a run does), the workbook deflates every other
// sheet while it waits (see spool), with the same bytes as a result. The file is written atomically (package privatefile); the run removes
// the reports of older snapshots once it has published (review.RemoveOlder).
package workbook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
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

// Written is what Write wrote.
type Written struct {
	Path string // dir/report-<snapshot>.xlsx
	// Sheets is how many worksheets with rows the workbook has, and Copied
	// how many of them were copied, deflated, from the previous workbook
	// (Input.CarryFrom, carry.go).
	Sheets, Copied int
}

// Write writes dir/report-<snapshot>.xlsx and says what it wrote.
func Write(ctx context.Context, dir string, in Input) (Written, error) {
	if in.Result == nil {
		return Written{}, errors.New("write workbook: no result")
	}
	var w Written
	path, err := privatefile.Write(dir, FileName(in.Info.SnapshotID), func(f *privatefile.File) (err error) {
		w.Sheets, w.Copied, err = write(ctx, f, dir, in)
		return err
	})
	if err != nil {
		return Written{}, fmt.Errorf("write workbook: %w", err)
	}
	w.Path = path
	return w, nil
}

// book is one workbook being written.
type book struct {
	ctx    context.Context
	dir    string
	in     Input
	styles styles
	emails *review.ReferrerEmails
	sheets [][]*part // the parts of each sheet, in order
	parts  []*part   // every part, by index
}

type styles struct {
	header, title, date, integer int
	money                        map[int]int // currency exponent -> style
}

func write(ctx context.Context, out *privatefile.File, dir string, in Input) (sheets, copied int, err error) {
	b := &book{ctx: ctx, dir: dir, in: in}
	f, err := b.newFile()
	if err != nil {
		return 0, 0, err
	}
	b.lay(b.summary())
	b.emails = review.NewReferrerEmails(in.Result.Referrers)
	for i := range in.Result.Cycles {
		b.lay(b.cycle(&in.Result.Cycles[i]))
	}
	b.lay(b.clawbacks())
	// Every sheet but the changes is known: the spool deflates them while
	// the comparison with the previous snapshot is made (LaterChanges).
	// Excelize then writes the whole workbook again, the changes included,
	// and the writer copies in the spool's sheets where excelize wrote the
	// same XML around their rows (spool.take).
	later := in.LaterChanges
	if later == nil {
		b.lay(b.changes(in.Changes))
	}
	first, err := b.save(f)
	if err != nil {
		return 0, 0, err
	}
	known := make(map[int]*part, len(b.parts))
	for _, p := range b.parts {
		known[p.index] = p
	}
	// The previous snapshot's workbook, for the sheets it holds with the
	// same XML (carry.go).
	key := carryKey(in.Info.CodeVersion)
	cr := &carrying{key: key, c: openCarry(in.CarryFrom, in.Info.SnapshotID, key)}
	defer cr.c.close()
	sp, err := startSpool(ctx, first, known, &b.styles, cr)
	if err != nil {
		return 0, 0, err
	}
	defer sp.stop()
	final := first
	if later != nil {
		b.lay(b.changes(later()))
		if f, err = b.newFile(); err != nil {
			return 0, 0, err
		}
		if final, err = b.save(f); err != nil {
			return 0, 0, err
		}
	}
	sp.stopTaking()
	rows := &rowSource{ctx: ctx, parts: b.parts, written: make([]bool, len(b.parts)), styles: &b.styles}
	if err := final.write(out, in.Result.AsOf.UTC(), rows, sp, cr); err != nil {
		return 0, 0, err
	}
	return len(b.parts), cr.copied, nil
}

// newFile starts an excelize workbook: its styles (the same ids every
// time), document properties, and the summary sheet, the active one.
func (b *book) newFile() (*excelize.File, error) {
	f := excelize.NewFile(excelize.Options{TmpDir: b.dir})
	// The sheets' cells carry the style ids of the first file, and the
	// spool reads them while the second is made.
	st, err := makeStyles(f)
	switch {
	case err != nil:
		f.Close()
		return nil, err
	case b.styles.money == nil:
		b.styles = st
	case !reflect.DeepEqual(st, b.styles):
		f.Close()
		return nil, errors.New("workbook: excelize gave other style ids the second time")
	}
	asOf := b.in.Result.AsOf.UTC().Format(time.RFC3339)
	if err := f.SetDocProps(&excelize.DocProperties{Creator: "refrecon", Title: "refrecon report " + b.in.Info.SnapshotID,
		Created: asOf, Modified: asOf}); err != nil {
		f.Close()
		return nil, err
	}
	// The default sheet goes, and the first sheet becomes the active one,
	// before any sheet is streamed: DeleteSheet and SetActiveSheet read
	// every worksheet of the file, which for a streamed one means decoding
	// its whole XML back into memory (excelize's workSheetReader), and the
	// save then encodes it again, only to write the stream instead. At 100k
	// referrals that was 3.6 GB allocated and 2.3 GB peak RSS
	// (docs/performance.md, change 12).
	if _, err := f.NewSheet(SummarySheet); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.DeleteSheet("Sheet1"); err != nil {
		f.Close()
		return nil, err
	}
	f.SetActiveSheet(0)
	return f, nil
}

// save adds every sheet laid out so far to f (a newFile), saves it into an
// archive, with a placeholder row in each worksheet, and closes f.
func (b *book) save(f *excelize.File) (*archive, error) {
	defer f.Close()
	for _, parts := range b.sheets {
		if err := b.add(f, parts); err != nil {
			return nil, fmt.Errorf("sheet %q: %w", parts[0].name, err)
		}
	}
	zw := &archive{}
	f.SetZipWriter(func(_ io.Writer) excelize.ZipWriter { return zw })
	if _, err := f.WriteTo(io.Discard); err != nil {
		return nil, err
	}
	return zw, nil
}

// lay lays sp out (sheetSpec.layout) and numbers its parts after the
// parts of the sheets before it.
func (b *book) lay(sp *sheetSpec) {
	parts, _ := sp.layout(nil)
	for _, p := range parts {
		p.index = len(b.parts)
		b.parts = append(b.parts, p)
	}
	b.sheets = append(b.sheets, parts)
}

// makeStyles makes the workbook's styles in f.
func makeStyles(f *excelize.File) (styles, error) {
	var (
		err error
		st  styles
	)
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(s)
		return id
	}
	st.header = mk(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE4EE"}}})
	st.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}})
	dateFmt := "yyyy-mm-dd hh:mm:ss"
	st.date = mk(&excelize.Style{CustomNumFmt: &dateFmt})
	st.integer = mk(&excelize.Style{NumFmt: 1})
	st.money = map[int]int{}
	for _, exp := range []int{0, 2, 3} {
		st.money[exp] = mk(&excelize.Style{CustomNumFmt: ptr(moneyFormat(exp))})
	}
	return st, err
}

func ptr[T any](v T) *T { return &v }

// moneyFormat is the number format for a currency exponent: "#,##0.00".
func moneyFormat(exp int) string {
	if exp == 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", exp)
}

// currency makes the money cells of one currency.
type currency struct {
	code       string
	exp, style int
}

func (b *book) currency(code string) currency {
	exp := pipeline.CurrencyExponent(code)
	style, ok := b.styles.money[exp]
	if !ok {
		style = b.styles.money[2]
	}
	return currency{code: code, exp: exp, style: style}
}

// cell is a money cell: a number in the major unit with the currency's
// format; an amount beyond 15 significant digits is text, never rounded.
func (c currency) cell(minor int64) cell {
	if minor <= -maxExactMinor || minor >= maxExactMinor {
		return str(pipeline.FormatDecimal(c.code, minor))
	}
	return cell{kind: cMoney, style: c.style, n: minor, m: int64(c.exp)}
}

func (b *book) date(unix int64) cell {
	if unix == 0 {
		return cell{}
	}
	return cell{kind: cTime, style: b.styles.date, n: unix}
}

func (b *book) timeCell(t time.Time) cell {
	if t.IsZero() {
		return cell{}
	}
	return cell{kind: cTime, style: b.styles.date, n: t.Unix(), m: int64(t.Nanosecond())}
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

// sheetSpec is one logical sheet: a title row, then tables, one blank row
// between two tables. Its rows are made when the archive is written, part
// by part (see part.encode), so that no row is held or encoded twice.
type sheetSpec struct {
	base   string // cycle id or fixed name
	title  []cell
	widths []float64
	tables []table
}

// table is a header row (written in the header style, repeated at the top
// of a continuation sheet) and n rows; rows makes a rowFunc for one pass
// over them (a pass's own state: two parts of a sheet may be encoded at
// once).
type table struct {
	header []cell
	n      int
	rows   func() rowFunc
}

// rowFunc fills r with row i of a table, and returns it. It is fastest
// called in row order.
type rowFunc func(i int, r []cell) []cell

func rowsTable(header []cell, rows [][]cell) table {
	return table{header: header, n: len(rows), rows: func() rowFunc {
		return func(i int, r []cell) []cell { return append(r[:0], rows[i]...) }
	}}
}

// part is one sheet of the workbook: the part-th sheet of a spec.
type part struct {
	spec  *sheetSpec
	part  int
	index int // among the workbook's parts: its placeholder
	name  string
	// The filter: the first table of the part (header row, last row,
	// columns); head 0 is none.
	filterHead, filterLast, filterCols int
}

type rowKind uint8

const (
	titleRow rowKind = iota
	headerRow
	dataRow
)

// slot is one row as laid out: its part (1-based) and row number, what it
// is, and for a header or data row its table and (data) index.
type slot struct {
	part, row int
	kind      rowKind
	table, i  int
}

// errStop ends a layout walk early.
var errStop = errors.New("stop")

// layout lays the rows of sp out on sheets of at most MaxRows rows, calling
// visit (when not nil) for every row in order, and returns the parts. Row 1
// of every part is the title; a table interrupted by the end of a part
// continues on the next with its header repeated; a table that would start
// on the last row of a part starts on the next.
func (sp *sheetSpec) layout(visit func(slot) error) ([]*part, error) {
	var (
		parts   []*part
		p       *part
		row     int
		cur     = -1 // the table being written, -1 between tables
		inFirst bool // cur is the part's first table
	)
	put := func(kind rowKind, t, i int) error {
		row++
		if visit == nil {
			return nil
		}
		return visit(slot{part: p.part, row: row, kind: kind, table: t, i: i})
	}
	var next func() error
	startTable := func(t int) error {
		if row+2 > MaxRows {
			cur = -1
			if err := next(); err != nil {
				return err
			}
		}
		cur = t
		if err := put(headerRow, t, 0); err != nil {
			return err
		}
		if p.filterHead == 0 {
			p.filterHead, p.filterLast, p.filterCols, inFirst = row, row, len(sp.tables[t].header), true
		}
		return nil
	}
	next = func() error {
		p = &part{spec: sp, part: len(parts) + 1}
		p.name = SheetName(sp.base, p.part)
		parts = append(parts, p)
		row, inFirst = 0, false
		if err := put(titleRow, -1, 0); err != nil {
			return err
		}
		if cur >= 0 {
			return startTable(cur)
		}
		return nil
	}
	err := func() error {
		if err := next(); err != nil {
			return err
		}
		for t := range sp.tables {
			if t > 0 {
				cur, inFirst = -1, false
				if row+1 <= MaxRows {
					row++ // a blank row
				}
			}
			if err := startTable(t); err != nil {
				return err
			}
			for i := range sp.tables[t].n {
				if row+1 > MaxRows {
					if err := next(); err != nil {
						return err
					}
				}
				if err := put(dataRow, t, i); err != nil {
					return err
				}
				if inFirst {
					p.filterLast = row
				}
			}
		}
		return nil
	}()
	if errors.Is(err, errStop) {
		err = nil
	}
	return parts, err
}

// add adds a sheet's parts to f: each a sheet with its column widths,
// frozen header rows and filter, and a placeholder row that the archive
// replaces with the part's rows.
func (b *book) add(f *excelize.File, parts []*part) error {
	for _, p := range parts {
		if _, err := f.NewSheet(p.name); err != nil {
			return err
		}
		sw, err := f.NewStreamWriter(p.name)
		if err != nil {
			return err
		}
		for i, w := range p.spec.widths {
			if err := sw.SetColWidth(i+1, i+1, w); err != nil {
				return err
			}
		}
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 2, TopLeftCell: "A3", ActivePane: "bottomLeft",
			Selection: []excelize.Selection{{SQRef: "A3", ActiveCell: "A3", Pane: "bottomLeft"}}}); err != nil {
			return err
		}
		if err := sw.SetRow("A1", []any{placeholderPrefix + strconv.Itoa(p.index)}); err != nil {
			return err
		}
		if p.filterHead != 0 {
			last, _ := excelize.CoordinatesToCellName(p.filterCols, max(p.filterLast, p.filterHead+1))
			first, _ := excelize.CoordinatesToCellName(1, p.filterHead)
			// The stream writer writes the worksheet's autoFilter at Flush.
			if err := f.AutoFilter(p.name, first+":"+last, nil); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// encode writes the <row> elements of p to w, through buf (returned, to be
// reused): each row as appendRow appends it, or as appendRowKey does for
// the sheet's key (writeKey).
func (p *part) encode(ctx context.Context, w io.Writer, buf []byte, styles *styles, appendRow func(b []byte, r int, cells []cell, rowStyle int) []byte) ([]byte, error) {
	var cells []cell
	n := 0
	rows := make([]rowFunc, len(p.spec.tables))
	_, err := p.spec.layout(func(s slot) error {
		switch {
		case s.part < p.part:
			return nil
		case s.part > p.part:
			return errStop
		}
		var rowStyle int
		switch s.kind {
		case titleRow:
			cells, rowStyle = append(cells[:0], p.spec.title...), styles.title
		case headerRow:
			cells, rowStyle = append(cells[:0], p.spec.tables[s.table].header...), styles.header
		default:
			if rows[s.table] == nil {
				rows[s.table] = p.spec.tables[s.table].rows()
			}
			cells = rows[s.table](s.i, cells)
		}
		buf = appendRow(buf, s.row, cells, rowStyle)
		if n++; n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if len(buf) >= 1<<18 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		return nil
	})
	if err == nil {
		_, err = w.Write(buf)
	}
	return buf[:0], err
}

// widthOf is a cell value's display width in characters.
func widthOf(c *cell) float64 {
	var scratch [32]byte
	switch c.kind {
	case cText:
		return float64(utf8.RuneCountInString(c.s))
	case cInt:
		return float64(len(strconv.AppendInt(scratch[:0], c.n, 10)))
	case cMoney:
		return float64(moneyLen(c.n, int(c.m), scratch[:0])*4/3 + 1)
	case cFloat:
		return float64(len(strconv.AppendFloat(scratch[:0], c.f, 'g', -1, 64)))
	case cBool:
		return 5
	case cTime:
		return 19
	}
	return 0
}

// moneyLen is the length of the amount's double formatted with two
// decimals (strconv 'f', 2), counted without formatting it for the
// exponents 0 and 2.
func moneyLen(minor int64, exp int, scratch []byte) int {
	if exp == 0 || exp == 2 {
		u, n := uint64(minor), 3 // ".00"
		if minor < 0 {
			u, n = uint64(-(minor+1))+1, 4
		}
		if exp == 2 {
			u /= 100
		}
		for u >= 10 {
			u /= 10
			n++
		}
		return n + 1
	}
	return len(strconv.AppendFloat(scratch, float64(minor)/math.Pow10(exp), 'f', 2, 64))
}

// sizer sizes columns from the rows that will be written.
type sizer []float64

func (z *sizer) fit(cells []cell) {
	for len(*z) < len(cells) {
		*z = append(*z, 8)
	}
	for i := range cells {
		if w := widthOf(&cells[i]) + 2; w > (*z)[i] {
			(*z)[i] = min(w, maxColumnWidth)
		}
	}
}

func (b *book) summary() *sheetSpec {
	res := b.in.Result
	title := []cell{str("snapshot"), str(b.in.Info.SnapshotID), str("asOf"), b.timeCell(res.AsOf), str("code version"), text(b.in.Info.CodeVersion)}
	header := strs("cycle id", "display name", "award model", "currency", "status", "isFinal", "settlesAt",
		"start", "end", "pool", "awarded", "remaining", "referrals", "conversions", "pending conversions",
		"revenue", "pending revenue", "ranked referrers", "qualified referrers")
	rows := make([][]cell, 0, len(res.Cycles))
	for _, cr := range res.Cycles {
		r, t, cur := cr.Cycle.Rules, cr.Totals, b.currency(cr.Cycle.Rules.Currency)
		rows = append(rows, []cell{str(cr.Cycle.ID), text(cr.Cycle.DisplayName), str(string(r.AwardModel)), str(cur.code), str(string(cr.Status)), boolean(cr.IsFinal),
			b.timeCell(cr.SettlesAt), b.timeCell(r.StartTime), b.timeCell(r.EndTime),
			cur.cell(r.AwardPool.Amount), cur.cell(t.Awarded), cur.cell(cr.AwardPoolRemaining),
			num(t.Referrals), num(t.Conversions), num(t.PendingConversions), cur.cell(t.Revenue), cur.cell(t.PendingRevenue),
			num(t.RankedReferrers), num(t.QualifiedReferrers)})
	}
	return b.table(SummarySheet, title, header, rows)
}

func strs(names ...string) []cell {
	out := make([]cell, len(names))
	for i, n := range names {
		out[i] = str(n)
	}
	return out
}

var (
	referrerHeader = strs("rank", "refcode", "referrer email", "qualified", "award", "score", "referrals", "conversions",
		"pending conversions", "revenue", "pending revenue", "final score boost", "admin action", "admin action reason")
	trailHeader = strs("seq", "paid at", "invoice id", "customer id", "refcode", "referee email", "gross", "refunds",
		"credit notes", "disputes", "net", "pending", "accumulated revenue", "pool before", "claim")
)

func (b *book) cycle(cr *pipeline.CycleResult) *sheetSpec {
	cur := b.currency(cr.Cycle.Rules.Currency)
	scoreIsMoney := !(cr.Cycle.Rules.AwardModel == pipeline.PieSplit && cr.Cycle.Rules.ScoreBy == pipeline.ScoreByConversions)
	pie := cr.Cycle.Rules.AwardModel == pipeline.PieSplit
	unranked := review.ByRefcode(cr.Unranked)
	ranked := cr.Leaderboard
	referrers := func() rowFunc {
		emails := b.emails.Cursor()
		return func(i int, row []cell) []cell {
			var e *pipeline.Entry
			if i < len(ranked) {
				e = &ranked[i]
			} else {
				e = &unranked[i-len(ranked)]
			}
			var rank, score, boost, action, reason cell
			if e.Rank > 0 {
				rank = num(e.Rank)
			}
			if scoreIsMoney {
				score = cur.cell(e.Score)
			} else {
				score = num(e.Score)
			}
			if pie && e.BoostDen != 0 {
				boost = float(float64(e.BoostNum) / float64(e.BoostDen)) // a display ratio, not money
			}
			if a := e.AdminAction; a != nil {
				action, reason = str(string(a.ActionType)), text(a.Reason)
			}
			return append(row[:0], rank, text(e.Refcode), text(emails.Of(e.Refcode)), boolean(e.Qualified), cur.cell(e.Award), score,
				num(e.Referrals), num(e.Conversions), num(e.PendingConversions), cur.cell(e.Revenue), cur.cell(e.PendingRevenue),
				boost, action, reason)
		}
	}
	event := func(i int, row []cell) []cell {
		ev := &cr.Events[i]
		return append(row[:0], num(i+1), b.date(ev.PaidAt), text(ev.InvoiceID), text(ev.CustomerID), text(ev.Refcode),
			text(ev.RefereeEmail), cur.cell(ev.Gross), cur.cell(ev.Refunded), cur.cell(ev.Credited),
			cur.cell(ev.Disputed), cur.cell(ev.Net), boolean(ev.Pending), cur.cell(ev.AccumulatedRevenue),
			cur.cell(ev.PoolBefore), cur.cell(ev.Claim))
	}
	t := cr.Totals
	totals := [][]cell{
		{str("referrals"), num(t.Referrals)}, {str("conversions"), num(t.Conversions)}, {str("pending conversions"), num(t.PendingConversions)},
		{str("revenue"), cur.cell(t.Revenue)}, {str("pending revenue"), cur.cell(t.PendingRevenue)},
		{str("ranked referrers"), num(t.RankedReferrers)}, {str("qualified referrers"), num(t.QualifiedReferrers)},
		{str("pool"), cur.cell(cr.Cycle.Rules.AwardPool.Amount)}, {str("awarded"), cur.cell(t.Awarded)},
		{str("remaining"), cur.cell(cr.AwardPoolRemaining)},
	}
	totalsHeader := []cell{str("control totals")}
	referrerTable := table{header: referrerHeader, n: len(ranked) + len(unranked), rows: referrers}
	trail := table{header: trailHeader, n: len(cr.Events), rows: func() rowFunc { return event }}

	// Size the columns from the first SizeRows rows of each table (the
	// widest values are the top of the leaderboard's amounts; emails and
	// ids vary little in length), so that sizing does not build every row
	// twice.
	var z sizer
	z.fit(referrerHeader)
	z.fit(trailHeader)
	var row []cell
	referrer := referrers()
	for _, span := range [][2]int{{0, len(ranked)}, {len(ranked), len(unranked)}} {
		for i := range min(span[1], SizeRows) {
			row = referrer(span[0]+i, row)
			z.fit(row)
		}
	}
	for i := range min(len(cr.Events), SizeRows) {
		row = event(i, row)
		z.fit(row)
	}
	z.fit(totalsHeader)
	for _, r := range totals {
		z.fit(r)
	}
	title := []cell{str(cr.Cycle.ID), text(cr.Cycle.DisplayName), str(string(cr.Cycle.Rules.AwardModel)), str(cur.code), str(string(cr.Status))}
	z[0] = max(z[0], min(widthOf(&title[0]), maxColumnWidth))
	return &sheetSpec{base: cr.Cycle.ID, title: title, widths: z,
		tables: []table{referrerTable, trail, rowsTable(totalsHeader, totals)}}
}

var clawbackHeader = strs("kind", "cycle id", "refcode", "referee email", "referred at", "settled award", "current award",
	"drift", "reason")

func (b *book) clawbacks() *sheetSpec {
	title := []cell{str("clawback candidates and award drift (SPEC 2.7)"), str(b.in.Info.SnapshotID)}
	return b.table(ClawbackSheet, title, clawbackHeader, clawbackRows(b))
}

// table is a sheet of one table: title, header, rows.
func (b *book) table(name string, title, header []cell, rows [][]cell) *sheetSpec {
	var z sizer
	z.fit(header)
	for _, r := range rows {
		z.fit(r)
	}
	return &sheetSpec{base: name, title: title, widths: z, tables: []table{rowsTable(header, rows)}}
}

// clawbackRows are the rows of the clawback sheet: every referral row the
// pipeline flags as a clawback candidate (rewarded, converts nowhere any
// more), with the reason that stopped it; then the award drift of every
// settled cycle (pipeline.ApplySettled): one row per referrer with a
// settled or a current award, positive drift marked as a clawback candidate.
func clawbackRows(b *book) [][]cell {
	var rows [][]cell
	for i := range b.in.Result.Decisions {
		d := &b.in.Result.Decisions[i]
		if !d.Clawback {
			continue
		}
		rows = append(rows, []cell{str("clawback candidate"), {}, text(d.Row.Refcode), text(d.Row.Email), b.date(d.ReferredAt),
			{}, {}, {}, text(d.Reason)})
	}
	for _, s := range b.in.Result.Settled {
		cur := b.currency(s.Currency)
		for _, d := range s.Drift {
			reason := "settled from " + s.SnapshotID
			if d.Clawback {
				reason += "; paid more than the current data gives: clawback candidate"
			}
			rows = append(rows, []cell{str("award drift"), str(s.CycleID), text(d.Refcode), {}, {},
				cur.cell(d.Settled), cur.cell(d.Current), cur.cell(d.Drift), str(reason)})
		}
	}
	return rows
}

var changesHeader = strs("cycle id", "change", "refcode or email", "field", "old", "new", "difference")

func (b *book) changes(d *snapdiff.Diff) *sheetSpec {
	var title []cell
	if d == nil {
		title = []cell{str("changes since the previous snapshot"), str("no previous snapshot")}
	} else {
		title = []cell{str("changes since"), str(d.Old), str("to"), str(d.New), str(d.Headline())}
	}
	return b.table(ChangesSheet, title, changesHeader, changeRows(b, d))
}

func changeRows(b *book, d *snapdiff.Diff) [][]cell {
	if d == nil {
		return nil
	}
	var rows [][]cell
	for _, c := range d.Cycles {
		cur := b.currency(c.Currency)
		id := str(c.CycleID)
		switch {
		case c.Added:
			rows = append(rows, []cell{id, str("cycle added")})
		case c.Removed:
			rows = append(rows, []cell{id, str("cycle removed")})
		}
		if c.Status != nil {
			rows = append(rows, []cell{id, str("status"), {}, str("status"), str(c.Status.Old), str(c.Status.New)})
		}
		if c.IsFinal != nil {
			rows = append(rows, []cell{id, str("status"), {}, str("isFinal"), boolean(c.IsFinal.Old), boolean(c.IsFinal.New)})
		}
		for _, t := range c.Totals {
			if t.Money {
				rows = append(rows, []cell{id, str("total"), {}, str(t.Field), cur.cell(t.Old), cur.cell(t.New), cur.cell(t.Delta())})
			} else {
				rows = append(rows, []cell{id, str("total"), {}, str(t.Field), num(t.Old), num(t.New), num(t.Delta())})
			}
		}
		for _, m := range c.Moves {
			kind := str("leaderboard")
			switch {
			case !m.OldQualified && m.NewQualified:
				kind = str("entered qualified set")
			case m.OldQualified && !m.NewQualified:
				kind = str("left qualified set")
			}
			if m.OldRank != m.NewRank {
				rows = append(rows, []cell{id, kind, text(m.Refcode), str("rank"), rankCell(m.OldRank), rankCell(m.NewRank)})
			}
			if m.OldAward != m.NewAward {
				rows = append(rows, []cell{id, kind, text(m.Refcode), str("award"), cur.cell(m.OldAward), cur.cell(m.NewAward), cur.cell(m.AwardDelta())})
			}
			if m.OldScore != m.NewScore {
				rows = append(rows, []cell{id, kind, text(m.Refcode), str("score"), num(m.OldScore), num(m.NewScore), num(m.NewScore - m.OldScore)})
			}
			if m.OldQualified != m.NewQualified {
				rows = append(rows, []cell{id, kind, text(m.Refcode), str("qualified"), boolean(m.OldQualified), boolean(m.NewQualified)})
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
			rows = append(rows, []cell{{}, str(kind), text(r.Email), str("outcome"), text(r.Outcome.Old), text(r.Outcome.New)})
		}
		for _, c := range r.Cycles {
			rows = append(rows, []cell{str(c.CycleID), str(kind), text(r.Email), str("eligibility"), text(c.Old), text(c.New)})
		}
	}
	return rows
}

func rankCell(r int) cell {
	if r == 0 {
		return str("unranked")
	}
	return num(r)
}
