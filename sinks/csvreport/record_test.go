package csvreport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"testing"
)

// csvLine is fields as encoding/csv writes them, the record's oracle.
func csvLine(t testing.TB, fields []string) string {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	if err := cw.Write(fields); err != nil {
		t.Fatal(err)
	}
	cw.Flush()
	return b.String()
}

func recordLine(t testing.TB, fields []string) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	if err := newRecord(len(fields)).writeStrings(w, fields); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRecordWritesWhatEncodingCSVWrites(t *testing.T) {
	for _, fields := range [][]string{
		{""},
		{"", ""},
		{"a", "b", "c"},
		{`\.`, `\.x`, `x\.`},
		{"a,b", `say "hi"`, "two\nlines", "cr\rhere", "crlf\r\n"},
		{" lead", "\tlead", "\u00a0nbsp", "\u2003em", "trail ", "mid space"},
		{"'=1+2", "=HYPERLINK(\"x\")", "ünïcödé", "\xff\xfe not utf-8", "😀,😀"},
		{"-12.34", "0.05", "true", "2026-07-15T00:00:00Z"},
	} {
		if got, want := recordLine(t, fields), csvLine(t, fields); got != want {
			t.Errorf("fields %q:\n got %q\nwant %q", fields, got, want)
		}
	}
}

// A record's fields may be set in any order and some left empty: the line
// is the same as the []string encoding/csv is given.
func TestRecordFieldsInAnyOrder(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	r := newRecord(6)
	r.money(4, "usd", -5)
	r.safe(1, "=cmd")
	r.int(0, 42)
	r.bool(3, true)
	if err := r.write(w); err != nil {
		t.Fatal(err)
	}
	r.time(2, 0)
	r.decimal(5, "jpy", 1234)
	if err := r.write(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := csvLine(t, []string{"42", "'=cmd", "", "true", "-5", "-0.05"}) +
		csvLine(t, []string{"", "", "1970-01-01T00:00:00Z", "", "", "1234"})
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}

func FuzzRecordMatchesEncodingCSV(f *testing.F) {
	f.Add("a", "b,c", `"q"`, " x", "\r\n", `\.`)
	f.Add("", "", "", "", "", "")
	f.Add("\u0085next", "\u3000", "é", "\xc3", "\x00", "'=")
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g string) {
		fields := []string{a, b, c, d, e, g}
		if got, want := recordLine(t, fields), csvLine(t, fields); got != want {
			t.Errorf("fields %q:\n got %q\nwant %q", fields, got, want)
		}
	})
}

func TestNeedsApostrophe(t *testing.T) {
	for s, want := range map[string]bool{
		"=1": true, "+1": true, "-1": true, "@a": true, "\tx": true, "\rx": true,
		"": false, "a=1": false, " =1": false, "1": false, "'=1": false, "\nx": false,
	} {
		if got := needsApostrophe(s); got != want {
			t.Errorf("needsApostrophe(%q) = %v, want %v", s, got, want)
		}
	}
}
