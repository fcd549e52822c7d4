package pipeline

import (
	"strconv"
	"strings"
)

// zeroDecimal and threeDecimal are the ISO 4217 currencies (as Stripe lists
// them) whose minor unit is not a hundredth.
var (
	zeroDecimal = map[string]bool{
		"bif": true, "clp": true, "djf": true, "gnf": true, "jpy": true, "kmf": true, "krw": true,
		"mga": true, "pyg": true, "rwf": true, "ugx": true, "vnd": true, "vuv": true, "xaf": true,
		"xof": true, "xpf": true,
	}
	threeDecimal = map[string]bool{"bhd": true, "jod": true, "kwd": true, "omr": true, "tnd": true}
)

// CurrencyExponent is the number of decimal places of a currency's minor
// unit: 0 for zero-decimal currencies (jpy), 3 for bhd, jod, kwd, omr and
// tnd, 2 for every other code.
func CurrencyExponent(currency string) int {
	c := strings.ToLower(currency)
	switch {
	case zeroDecimal[c]:
		return 0
	case threeDecimal[c]:
		return 3
	default:
		return 2
	}
}

// FormatDecimal renders an amount in minor units as a decimal string in the
// currency's major unit, with integer arithmetic only: 12345 usd is
// "123.45", -5 usd is "-0.05", 500 jpy is "500".
func FormatDecimal(currency string, minor int64) string {
	exp := CurrencyExponent(currency)
	neg := minor < 0
	var digits string
	if neg {
		// Negate through uint64 so that math.MinInt64 is rendered too.
		digits = strconv.FormatUint(uint64(-(minor+1))+1, 10)
	} else {
		digits = strconv.FormatInt(minor, 10)
	}
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}
