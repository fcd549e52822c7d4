package pipeline

import (
	"strconv"
	"strings"
)

// CurrencyExponent is the number of decimal places of a currency's minor
// unit: 0 for the zero-decimal currencies of ISO 4217 as Stripe lists them
// (jpy, krw, ...), 3 for bhd, jod, kwd, omr and tnd, 2 for every other code.
// A switch, not a map: the finance reports format every amount through it
// (two map lookups were 0.45 s of CPU in a 1M run, docs/performance.md).
func CurrencyExponent(currency string) int {
	switch strings.ToLower(currency) {
	case "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return 0
	case "bhd", "jod", "kwd", "omr", "tnd":
		return 3
	}
	return 2
}

// FormatDecimal renders an amount in minor units as a decimal string in the
// currency's major unit, with integer arithmetic only: 12345 usd is
// "123.45", -5 usd is "-0.05", 500 jpy is "500".
func FormatDecimal(currency string, minor int64) string {
	var b [24]byte
	return string(AppendDecimal(b[:0], currency, minor))
}

// AppendDecimal appends FormatDecimal(currency, minor) to dst: the same
// text without a string of its own, for writers of many amounts.
func AppendDecimal(dst []byte, currency string, minor int64) []byte {
	exp := CurrencyExponent(currency)
	if minor < 0 {
		dst = append(dst, '-')
	}
	// Negate through uint64 so that math.MinInt64 is rendered too.
	u := uint64(minor)
	if minor < 0 {
		u = uint64(-(minor + 1)) + 1
	}
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	if exp == 0 {
		return append(dst, d...)
	}
	if len(d) <= exp { // 5 cents is 0.05
		dst = append(dst, '0', '.')
		for range exp - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	dst = append(dst, d[:len(d)-exp]...)
	dst = append(dst, '.')
	return append(dst, d[len(d)-exp:]...)
}
