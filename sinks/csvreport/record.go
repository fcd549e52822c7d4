package csvreport

import (
	"bufio"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/refrecon/refrecon/pipeline"
)

// record is one CSV line being built: each field is formatted straight into
// one reused buffer, in any column order, and the line is then written with
// encoding/csv's rules (a csv.Writer with Comma ',' and UseCRLF false: a
// field is quoted when it holds a comma, a quote, "\r" or "\n", starts with
// a space, or is `\.`; quotes inside are doubled; lines end in "\n"). The
// tests check it against encoding/csv itself, byte for byte.
//
// Why not csv.Writer: it takes a []string per line, so each number of a
// line (about fifteen per line, 4.2M lines at 1M referrals) was first made
// a string of its own; at 1M referrals the reports cost 6.5 s of CPU and a
// large share of the run's allocations (docs/performance.md, change 14).
type record struct {
	buf   []byte
	field [][2]int32 // a column's bytes in buf, [from, to); from < 0: empty
}

func newRecord(cols int) *record {
	r := &record{field: make([][2]int32, cols), buf: make([]byte, 0, 1024)}
	r.reset()
	return r
}

// reset empties every field.
func (r *record) reset() {
	r.buf = r.buf[:0]
	for i := range r.field {
		r.field[i] = [2]int32{-1, -1}
	}
}

func (r *record) begin() int { return len(r.buf) }

func (r *record) end(col, from int) { r.field[col] = [2]int32{int32(from), int32(len(r.buf))} }

// text sets col to s as it is.
func (r *record) text(col int, s string) {
	from := r.begin()
	r.buf = append(r.buf, s...)
	r.end(col, from)
}

// safe sets col to s from the inputs, defused against spreadsheet formulas
// (needsApostrophe).
func (r *record) safe(col int, s string) {
	from := r.begin()
	if needsApostrophe(s) {
		r.buf = append(r.buf, '\'')
	}
	r.buf = append(r.buf, s...)
	r.end(col, from)
}

func (r *record) int(col int, v int64) {
	from := r.begin()
	r.buf = strconv.AppendInt(r.buf, v, 10)
	r.end(col, from)
}

func (r *record) bool(col int, v bool) {
	from := r.begin()
	r.buf = strconv.AppendBool(r.buf, v)
	r.end(col, from)
}

// decimal sets col to minor as a decimal amount of currency
// (pipeline.AppendDecimal).
func (r *record) decimal(col int, currency string, minor int64) {
	from := r.begin()
	r.buf = pipeline.AppendDecimal(r.buf, currency, minor)
	r.end(col, from)
}

// money sets a <name>_minor column and the <name> column after it.
func (r *record) money(minorCol int, currency string, minor int64) {
	r.int(minorCol, minor)
	r.decimal(minorCol+1, currency, minor)
}

// time sets col to unix as RFC 3339 in UTC.
func (r *record) time(col int, unix int64) {
	from := r.begin()
	r.buf = time.Unix(unix, 0).UTC().AppendFormat(r.buf, time.RFC3339)
	r.end(col, from)
}

// write writes the line to w and empties the record.
func (r *record) write(w *bufio.Writer) error {
	out := w.AvailableBuffer()
	for i, f := range r.field {
		if i > 0 {
			out = append(out, ',')
		}
		if f[0] >= 0 {
			out = appendField(out, r.buf[f[0]:f[1]])
		}
	}
	out = append(out, '\n')
	r.reset()
	_, err := w.Write(out)
	return err
}

// appendField appends one field as csv.Writer writes it.
func appendField(out, field []byte) []byte {
	if !fieldNeedsQuotes(field) {
		return append(out, field...)
	}
	out = append(out, '"')
	for _, c := range field {
		if c == '"' {
			out = append(out, '"')
		}
		out = append(out, c)
	}
	return append(out, '"')
}

// fieldNeedsQuotes is encoding/csv's (Go 1.26) for Comma ',': a field is
// quoted when it holds a comma, a quote, "\r" or "\n", when it starts with a
// space (unicode.IsSpace), and when it is `\.` (a line Postgres reads as the
// end of its data).
func fieldNeedsQuotes(field []byte) bool {
	if len(field) == 0 {
		return false
	}
	if string(field) == `\.` {
		return true
	}
	for _, c := range field {
		if quoteByte[c] {
			return true
		}
	}
	r1, _ := utf8.DecodeRune(field)
	return unicode.IsSpace(r1)
}

// quoteByte marks the bytes that make encoding/csv quote a field wherever
// they stand: the comma, the quote, "\r" and "\n".
var quoteByte = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// writeStrings writes fields as one line (headers, and the small files).
func (r *record) writeStrings(w *bufio.Writer, fields []string) error {
	for i, s := range fields {
		r.text(i, s)
	}
	return r.write(w)
}
