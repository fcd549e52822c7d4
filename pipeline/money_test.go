package pipeline

import (
	"fmt"
	"math"
	"testing"
)

func TestFormatDecimal(t *testing.T) {
	for _, tc := range []struct {
		cur   string
		minor int64
		want  string
	}{
		{"usd", 0, "0.00"},
		{"usd", 5, "0.05"},
		{"usd", 12345, "123.45"},
		{"USD", -5, "-0.05"},
		{"usd", -12345, "-123.45"},
		{"eur", 100, "1.00"},
		{"jpy", 500, "500"},
		{"krw", -7, "-7"},
		{"kwd", 1234, "1.234"},
		{"bhd", 1, "0.001"},
		{"usd", math.MaxInt64, "92233720368547758.07"},
		{"usd", math.MinInt64, "-92233720368547758.08"},
	} {
		if got := FormatDecimal(tc.cur, tc.minor); got != tc.want {
			t.Errorf("FormatDecimal(%q, %d) = %q, want %q", tc.cur, tc.minor, got, tc.want)
		}
	}
}

func ExampleFormatDecimal() {
	fmt.Println(FormatDecimal("usd", 123456), FormatDecimal("jpy", 500), FormatDecimal("kwd", -1234))
	// Output: 1234.56 500 -1.234
}

func TestCurrencyExponent(t *testing.T) {
	for code, want := range map[string]int{
		"usd": 2, "eur": 2, "USD": 2, "": 2, "xxx": 2, "jp": 2, "jpyy": 2,
		"bif": 0, "clp": 0, "djf": 0, "gnf": 0, "jpy": 0, "JPY": 0, "kmf": 0, "krw": 0, "mga": 0,
		"pyg": 0, "rwf": 0, "ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
		"bhd": 3, "jod": 3, "kwd": 3, "KWD": 3, "omr": 3, "tnd": 3,
	} {
		if got := CurrencyExponent(code); got != want {
			t.Errorf("CurrencyExponent(%q) = %d, want %d", code, got, want)
		}
	}
}

func BenchmarkCurrencyExponent(b *testing.B) {
	codes := []string{"usd", "eur", "jpy", "kwd", "gbp"}
	n := 0
	for i := 0; b.Loop(); i++ {
		n += CurrencyExponent(codes[i%len(codes)])
	}
	if n < 0 {
		b.Fatal(n)
	}
}
