package workbook

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestRowKeyTellsRowsApart holds the carry's premise: two rows whose XML
// differs have different keys. Each case changes one thing appendRow reads
// (the row's number or style, a cell's kind, style or value, where a string
// ends) and must change the key; the XML must change too, or the case tests
// nothing.
func TestRowKeyTellsRowsApart(t *testing.T) {
	base := []cell{str("ab"), num(7), {kind: cMoney, n: 1234, m: 2}, float(0.5), boolean(true), {kind: cTime, n: 1700000000, m: 5}}
	with := func(i int, c cell) []cell {
		out := append([]cell(nil), base...)
		out[i] = c
		return out
	}
	// first replaces base's first cell by cells.
	first := func(cells ...cell) []cell { return append(cells, base[1:]...) }
	// A text cell's kind, style, n, m and f in a key: "a" then this then
	// "b" is what two cells "a" and "b" would key to, were strings not
	// length-prefixed.
	textHead := "\x01\x00\x00\x00" + strings.Repeat("\x00", 8)
	type row struct {
		r, style int
		cells    []cell
	}
	for _, c := range []struct {
		name        string
		want, other row
	}{
		{"row number", row{1, 0, base}, row{2, 0, base}},
		{"row style", row{1, 0, base}, row{1, 3, base}},
		{"cell style", row{1, 0, base}, row{1, 0, with(1, cell{kind: cInt, n: 7, style: 4})}},
		{"kind", row{1, 0, base}, row{1, 0, with(4, num(1))}},
		{"int", row{1, 0, base}, row{1, 0, with(1, num(8))}},
		{"money exponent", row{1, 0, base}, row{1, 0, with(2, cell{kind: cMoney, n: 1234, m: 0})}},
		{"float", row{1, 0, base}, row{1, 0, with(3, float(math.Nextafter(0.5, 1)))}},
		{"bool", row{1, 0, base}, row{1, 0, with(4, boolean(false))}},
		{"time", row{1, 0, base}, row{1, 0, with(5, cell{kind: cTime, n: 1700000001, m: 5})}},
		{"text", row{1, 0, base}, row{1, 0, with(0, str("ac"))}},
		{"an empty cell", row{1, 0, base}, row{1, 0, with(0, cell{})}},
		{"a cell more", row{1, 0, base}, row{1, 0, append(with(0, base[0]), num(1))}},
		{"where one string ends", row{1, 0, first(str("ab"), str("c"))}, row{1, 0, first(str("a"), str("bc"))}},
		{"where the other string ends", row{1, 0, first(str("ab"), str("c"))}, row{1, 0, first(str("abc"), str(""))}},
		{"a string holding a cell", row{1, 0, first(str("a"+textHead+"b"), str("c"))}, row{1, 0, first(str("a"), str("b"+textHead+"c"))}},
	} {
		key := func(r row) []byte { return appendRowKey(nil, r.r, r.cells, r.style) }
		xml := func(r row) []byte { return appendRow(nil, r.r, r.cells, r.style) }
		if bytes.Equal(xml(c.other), xml(c.want)) {
			t.Errorf("%s: the case does not change the XML", c.name)
		}
		if bytes.Equal(key(c.other), key(c.want)) {
			t.Errorf("%s: the XML differs but the key does not", c.name)
		}
	}
	if !bytes.Equal(appendRowKey(nil, 1, base, 0), appendRowKey(nil, 1, append([]cell(nil), base...), 0)) {
		t.Error("the same row gave two keys")
	}
}

// Only a build that names one commit carries sheets between nights.
func TestCarries(t *testing.T) {
	for v, want := range map[string]bool{"f48cff2": true, "v1.2.0": true, "": false, "dev": false, "f48cff2-dirty": false, "a\tb": false} {
		if got := Carries(v); got != want {
			t.Errorf("Carries(%q) = %v, want %v", v, got, want)
		}
	}
}
