package workbook

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// This file is the row encoder: it appends a worksheet's <row> elements to a
// reused []byte, the same bytes excelize's StreamWriter.SetRow writes for the
// same values (TestEncoderMatchesExcelize holds it to that), without
// boxing a value per cell or allocating per row. It exists for a measured
// reason: at 1M referrals (about 4.2M rows) SetRow was 14 s of the
// workbook's 28.5 s of CPU, about 85 allocations per row
// (docs/performance.md, change 16; docs/decisions.md).

// cellKind is what a cell holds.
type cellKind uint8

const (
	cEmpty cellKind = iota // no <c> element
	cText                  // an inline string (never a formula)
	cInt                   // an integer
	cMoney                 // minor units n of a currency of exponent m
	cFloat                 // a float64
	cBool                  // a boolean
	cTime                  // unix seconds n, nanoseconds m (UTC)
)

// cell is one cell of a row: a value and its style (0: the row's style).
type cell struct {
	kind  cellKind
	style int
	n, m  int64
	f     float64
	s     string
}

// text is a string from the inputs: an inline string, never a formula; an
// empty string is an empty cell.
func text(s string) cell {
	if s == "" {
		return cell{}
	}
	return cell{kind: cText, s: s}
}

// str is a string cell, written even when empty.
func str(s string) cell { return cell{kind: cText, s: s} }

func num[T ~int | ~int64](v T) cell { return cell{kind: cInt, n: int64(v)} }

func boolean(v bool) cell {
	c := cell{kind: cBool}
	if v {
		c.n = 1
	}
	return c
}

func float(v float64) cell { return cell{kind: cFloat, f: v} }

// maxExactMinor bounds the amounts written as numbers: below 10^15 minor
// units an amount has at most 15 significant digits, which a double holds
// exactly and Excel shows exactly. A larger amount is written as text.
const maxExactMinor = 1_000_000_000_000_000

// colNames are the cell reference letters of the first columns.
var colNames = func() []string {
	out := make([]string, 65)
	for i := 1; i < len(out); i++ {
		out[i], _ = excelize.ColumnNumberToName(i)
	}
	return out
}()

func colName(col int) string {
	if col < len(colNames) {
		return colNames[col]
	}
	s, _ := excelize.ColumnNumberToName(col)
	return s
}

// appendRow appends row number r: <row r="r"> (with the row's style when
// rowStyle is not 0) and a <c> for every cell that is not empty.
func appendRow(b []byte, r int, cells []cell, rowStyle int) []byte {
	var digits [20]byte
	row := strconv.AppendInt(digits[:0], int64(r), 10)
	b = append(b, `<row r="`...)
	b = append(b, row...)
	b = append(b, '"')
	if rowStyle > 0 {
		b = append(b, ` s="`...)
		b = strconv.AppendInt(b, int64(rowStyle), 10)
		b = append(b, `" customFormat="1"`...)
	}
	b = append(b, '>')
	for i := range cells {
		c := &cells[i]
		if c.kind == cEmpty {
			continue
		}
		b = appendCell(b, colName(i+1), row, c, rowStyle)
	}
	return append(b, `</row>`...)
}

func appendCell(b []byte, col string, row []byte, c *cell, rowStyle int) []byte {
	b = append(b, `<c r="`...)
	b = append(b, col...)
	b = append(b, row...)
	b = append(b, '"')
	if s := cmp.Or(c.style, rowStyle); s != 0 {
		b = append(b, ` s="`...)
		b = strconv.AppendInt(b, int64(s), 10)
		b = append(b, '"')
	}
	switch c.kind {
	case cText:
		return appendInlineString(b, c.s)
	case cInt:
		b = append(b, `><v>`...)
		b = strconv.AppendInt(b, c.n, 10)
	case cMoney:
		b = append(b, `><v>`...)
		b = appendDecimal(b, c.n, int(c.m))
	case cFloat:
		if math.IsNaN(c.f) || math.IsInf(c.f, 0) {
			return appendInlineString(b, fmt.Sprint(c.f))
		}
		b = append(b, `><v>`...)
		b = appendCellFloat(b, c.f)
	case cBool:
		b = append(b, ` t="b"><v>`...)
		b = append(b, byte('0'+c.n))
	case cTime:
		t := time.Unix(c.n, c.m).UTC()
		x := excelTime(t)
		if x <= 0 {
			// Before Excel's epoch: excelize writes the RFC 3339 text.
			b = append(b, ` t="inlineStr"><is><t>`...)
			b = t.AppendFormat(b, time.RFC3339Nano)
			return append(b, `</t></is></c>`...)
		}
		b = append(b, `><v>`...)
		b = strconv.AppendFloat(b, x, 'f', -1, 64)
	}
	return append(b, `</v></c>`...)
}

// appendDecimal appends minor units of a currency with exponent exp as the
// shortest decimal of the major unit: 12340 (exp 2) is "123.4", 0 is "0".
// For |minor| < maxExactMinor this is the text excelize writes for the
// double nearest to the amount.
func appendDecimal(b []byte, minor int64, exp int) []byte {
	u := uint64(minor)
	if minor < 0 {
		b = append(b, '-')
		u = uint64(-(minor + 1)) + 1
	}
	var p uint64 = 1
	for range exp {
		p *= 10
	}
	b = strconv.AppendUint(b, u/p, 10)
	frac := u % p
	if frac == 0 {
		return b
	}
	b = append(b, '.')
	for p /= 10; frac != 0; p /= 10 {
		b = append(b, byte('0'+frac/p))
		frac %= p
	}
	return b
}

// appendInlineString appends the rest of a <c> holding s as an inline
// string, as excelize's setInlineStr and writeCell do: at most 32,767 UTF-16
// units, xml:space="preserve" when it starts or ends with white space, XML
// escaped (newlines kept, characters XML cannot hold replaced by U+FFFD),
// and _xHHHH_ literals escaped as _x005F_xHHHH_.
func appendInlineString(b []byte, s string) []byte {
	b = append(b, ` t="inlineStr"><is><t`...)
	if len(s) > excelize.TotalCellChars {
		s = truncateUTF16(s, excelize.TotalCellChars)
	}
	if s != "" && (isSpace(s[0]) || isSpace(s[len(s)-1])) {
		b = append(b, ` xml:space="preserve"`...)
	}
	b = append(b, '>')
	if strings.Contains(s, "_x") {
		b = append(b, bstrMarshal(string(appendEscaped(nil, s)))...)
	} else {
		b = appendEscaped(b, s)
	}
	return append(b, `</t></is></c>`...)
}

func isSpace(c byte) bool { return c == '\t' || c == '\n' || c == '\r' || c == ' ' }

// truncateUTF16 cuts s to at most n UTF-16 units (a string of at most n
// bytes never has more).
func truncateUTF16(s string, n int) string {
	cnt := 0
	for i, r := range s {
		if cnt += utf16.RuneLen(r); cnt > n {
			return s[:i]
		}
	}
	return s
}

// appendEscaped is encoding/xml.EscapeText with newlines kept as they are
// (excelize escapes, then turns "&#xA;" back into "\n").
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\'' && c != '&' && c != '<' && c != '>' {
			i++
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			continue
		case '\r':
			esc = "&#xD;"
		default:
			if !inXMLRange(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
				break
			}
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, esc...)
		last = i
	}
	return append(b, s[last:]...)
}

func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

var (
	bstrExp       = regexp.MustCompile(`_x[a-fA-F\d]{4}_`)
	bstrEscapeExp = regexp.MustCompile(`x[a-fA-F\d]{4}_`)
)

// bstrMarshal is excelize's (lib.go, BSD-3-Clause): a literal _xHHHH_ in a
// string is written as _x005F_xHHHH_, so that a reader does not decode it.
// Only strings containing "_x" come here.
func bstrMarshal(s string) (result string) {
	matches, l, cursor := bstrExp.FindAllStringSubmatchIndex(s, -1), len(s), 0
	for _, match := range matches {
		result += s[cursor:match[0]]
		subStr := s[match[0]:match[1]]
		if subStr == "_x005F_" {
			cursor = match[1]
			if match[1]+6 <= l && bstrEscapeExp.MatchString(s[match[1]:match[1]+6]) {
				_, err := strconv.Unquote(`"\u` + s[match[1]+1:match[1]+5] + `"`)
				if err == nil {
					result += subStr + "x005F" + subStr
					continue
				}
			}
			result += subStr + "x005F_"
			continue
		}
		if bstrExp.MatchString(subStr) {
			cursor = match[1]
			if _, err := strconv.Unquote(`"\u` + s[match[0]+2:match[1]-1] + `"`); err == nil {
				result += "_x005F" + subStr
				continue
			}
		}
	}
	if cursor < l {
		result += s[cursor:]
	}
	return result
}

// appendCellFloat is excelize's formatCellFloat(v, -1, 64): the shortest
// decimal, cut to Excel's 15 significant digits.
func appendCellFloat(b []byte, v float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	if math.Abs(v) == math.MaxFloat64 {
		return b
	}
	const maxPrec = 15
	str := b[start:]
	decimal := -1
	for i, c := range str {
		if c == '.' {
			decimal = i
			break
		}
	}
	significant := 0
	for idx := range str {
		if str[idx] < '0' || str[idx] > '9' || significant == 0 && str[idx] == '0' {
			continue
		}
		significant++
		if significant <= maxPrec {
			continue
		}
		if decimal >= 0 && idx > decimal {
			b = b[:start+idx]
			if b[len(b)-1] == '.' {
				b = b[:len(b)-1]
			}
			return b
		}
		if decimal < 0 {
			decimal = len(str)
		}
		for ; idx < decimal; idx++ {
			str[idx] = '0'
		}
		return b[:start+decimal]
	}
	return b
}

// excelTime is excelize's timeToExcelTime for the 1900 date system (what a
// new workbook uses): days since 1899-12-31, plus one after February 1900.
func excelTime(t time.Time) float64 {
	const (
		day         = 24 * time.Hour
		maxDuration = 290 * 364 * day
	)
	if t.Before(excelEpoch) {
		return 0
	}
	tt, diff, result := t, t.Sub(excelEpoch), 0.0
	for diff >= maxDuration {
		result += float64(maxDuration / day)
		tt = tt.Add(-maxDuration)
		diff = tt.Sub(excelEpoch)
	}
	rem := diff % day
	result += float64(diff-rem)/float64(day) + float64(rem)/float64(day)
	if t.After(excelLeapBug) {
		result++
	}
	return result
}

var (
	excelEpoch   = time.Date(1899, time.December, 31, 0, 0, 0, 0, time.UTC)
	excelLeapBug = time.Date(1900, time.March, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
)
