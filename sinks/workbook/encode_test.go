package workbook

import (
	"archive/zip"
	"bytes"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/refrecon/refrecon/pipeline"
)

// excelizeValue is the value the workbook gave excelize's SetRow for a cell
// before the encoder: the oracle's input.
func excelizeValue(t *testing.T, c cell) any {
	var v any
	switch c.kind {
	case cEmpty:
		return nil
	case cText:
		v = c.s
	case cInt:
		v = c.n
	case cMoney:
		s := pipeline.FormatDecimal(map[int64]string{0: "jpy", 2: "usd", 3: "kwd"}[c.m], c.n)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || strconv.FormatFloat(f, 'f', int(c.m), 64) != s {
			t.Fatalf("money cell %d (exp %d) is not exact as a double", c.n, c.m)
		}
		v = f
	case cFloat:
		v = c.f
	case cBool:
		v = c.n == 1
	case cTime:
		v = time.Unix(c.n, c.m).UTC()
	}
	if c.style != 0 {
		return excelize.Cell{StyleID: c.style, Value: v}
	}
	return v
}

// excelizeRows writes rows through excelize's StreamWriter and returns its
// sheetData element.
func excelizeRows(t *testing.T, rows [][]cell, rowStyles []int) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for range 8 { // style ids up to 8 exist
		if _, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
			t.Fatal(err)
		}
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	for r, row := range rows {
		vals := make([]any, len(row))
		for i, c := range row {
			vals[i] = excelizeValue(t, c)
		}
		var opts []excelize.RowOpts
		if rowStyles[r] != 0 {
			opts = append(opts, excelize.RowOpts{StyleID: rowStyles[r]})
		}
		ref, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := sw.SetRow(ref, vals, opts...); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	xml, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(xml, []byte("<sheetData>")), bytes.Index(xml, []byte("</sheetData>"))
	if i < 0 || j < i {
		t.Fatalf("no sheetData in %.300s", xml)
	}
	return xml[i : j+len("</sheetData>")]
}

func encoded(rows [][]cell, rowStyles []int) []byte {
	b := []byte("<sheetData>")
	for r, row := range rows {
		b = appendRow(b, r+1, row, rowStyles[r])
	}
	return append(b, "</sheetData>"...)
}

// checkAgainstExcelize holds the encoder to excelize's bytes for the same
// values.
func checkAgainstExcelize(t *testing.T, rows [][]cell, rowStyles []int) {
	t.Helper()
	want := excelizeRows(t, rows, rowStyles)
	got := encoded(rows, rowStyles)
	if !bytes.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				lo := max(0, i-120)
				t.Fatalf("encoder and excelize differ at byte %d:\n got %q\nwant %q", i, got[lo:min(len(got), i+120)], want[lo:min(len(want), i+120)])
			}
		}
		t.Fatalf("encoder wrote %d bytes, excelize %d", len(got), len(want))
	}
}

var oddStrings = []string{
	"plain", "=HYPERLINK(\"http://evil\")", "+1", "-2", "@x", `<&>"'`, "a&amp;b", "a&#xA;b",
	" lead", "trail ", "\tlead", "trail\n", "\r", "a\nb", "a\r\nb", "tab\there",
	"\x00\x01\x02\x08\x0b\x0c\x0e\x1f\x7f", "bad utf-8 \xff\xfe\xc3", "\uFFFD literal", "\uFFFE\uFFFF not XML",
	"\uD7FF\uE000", "non-BMP 😀𝄞🀄", "é ü ß 中文 العربية", "_x0041_", "_x005F_", "_x005F_x0041_", "_x005f_X0041_",
	"x_x12G4_", "_x00", "__x0041__", "a_xABCD_b_x1234_", strings.Repeat("a", excelize.TotalCellChars+10),
	strings.Repeat("😀", excelize.TotalCellChars/2+3), strings.Repeat("b", excelize.TotalCellChars-1) + "😀c",
	strings.Repeat("<", 40_000), " " + strings.Repeat("x", excelize.TotalCellChars) + " ",
}

func TestEncoderMatchesExcelize(t *testing.T) {
	var rows [][]cell
	var rowStyles []int
	add := func(style int, cells ...cell) {
		rows = append(rows, cells)
		rowStyles = append(rowStyles, style)
	}
	for i, s := range oddStrings {
		add(i%3, str(s), cell{}, cell{kind: cText, s: s, style: 4})
	}
	add(0, str(""), text(""), str("x"))
	add(2, num(0), num(-1), num(math.MaxInt64), num(math.MinInt64), cell{kind: cInt, n: 42, style: 5})
	for _, exp := range []int64{0, 2, 3} {
		var cs []cell
		for _, n := range []int64{0, 1, -1, 5, -5, 10, 100, 12_340, -12_345, 1_000_000, 666_667, 999, 1001,
			maxExactMinor - 1, -(maxExactMinor - 1), 123_456_789_012_345, 98_765_432_109_876} {
			cs = append(cs, cell{kind: cMoney, n: n, m: exp, style: 6})
		}
		add(0, cs...)
		add(1, cs[:5]...)
	}
	add(0, float(1.0/3), float(2.0/3), float(0.1+0.2), float(-0.5), float(1e20), float(1e-7), float(123456789012345678),
		float(1234567890123456.7), float(math.MaxFloat64), float(-math.MaxFloat64), float(math.SmallestNonzeroFloat64),
		float(math.NaN()), float(math.Inf(1)), float(math.Inf(-1)), float(7))
	add(3, boolean(true), boolean(false), cell{kind: cBool, n: 1, style: 7})
	var times []cell
	for _, tm := range []time.Time{
		time.Unix(1772755200, 0), time.Unix(1772755200, 123_456_789), time.Date(1900, 2, 28, 12, 0, 0, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(1900, 2, 28, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1899, 12, 30, 23, 0, 0, 0, time.UTC),
		time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 6, 1, 1, 2, 3, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Unix(-3_000_000_000, 0),
	} {
		times = append(times, cell{kind: cTime, n: tm.Unix(), m: int64(tm.Nanosecond()), style: 3})
	}
	add(0, times...)
	add(2, times[:3]...)
	// More columns than the precomputed letters.
	wide := make([]cell, 80)
	for i := range wide {
		wide[i] = num(i)
	}
	add(0, wide...)
	checkAgainstExcelize(t, rows, rowStyles)
}

// FuzzInlineString holds the string encoding to excelize's for any text.
func FuzzInlineString(f *testing.F) {
	for _, s := range oddStrings {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAgainstExcelize(t, [][]cell{{str(s)}}, []int{0})
	})
}

func TestAppendDecimalIsTheShortestDouble(t *testing.T) {
	// For every amount under maxExactMinor the encoder's decimal is what
	// excelize writes for the double nearest to it (the old path:
	// FormatDecimal, ParseFloat, shortest FormatFloat).
	check := func(n int64, exp int) {
		cur := map[int]string{0: "jpy", 2: "usd", 3: "kwd"}[exp]
		f, _ := strconv.ParseFloat(pipeline.FormatDecimal(cur, n), 64)
		want := strconv.FormatFloat(f, 'f', -1, 64)
		if got := string(appendDecimal(nil, n, exp)); got != want {
			t.Fatalf("appendDecimal(%d, %d) = %q, want %q", n, exp, got, want)
		}
	}
	for i, n := range amounts(200_000, 0x9E3779B97F4A7C15) {
		if i%3 == 0 {
			n %= 1_000_000
		}
		check(n, []int{0, 2, 3}[i%3])
	}
}

// amounts are n pseudo-random amounts under maxExactMinor, every other one
// negative (xorshift from seed: the same amounts every run).
func amounts(n int, seed uint64) []int64 {
	out := make([]int64, n)
	x := seed
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = int64(x % uint64(maxExactMinor))
		if i%2 == 1 {
			out[i] = -out[i]
		}
	}
	return out
}

func TestMoneyLen(t *testing.T) {
	for i, n := range amounts(300_000, 0x2545F4914F6CDD1D) {
		n /= int64(1) << (i % 50)
		exp := []int{0, 2, 3}[i%3]
		want := len(strconv.FormatFloat(float64(n)/math.Pow10(exp), 'f', 2, 64))
		if got := moneyLen(n, exp, nil); got != want {
			t.Fatalf("moneyLen(%d, %d) = %d, want %d", n, exp, got, want)
		}
	}
}
