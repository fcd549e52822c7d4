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
