package pipeline

import (
	"errors"
	"math"
	"time"
)

// errOverflow is returned (wrapped with what overflowed) when a sum of money
// or counts does not fit in int64. Amounts are never wrapped or clamped.
var errOverflow = errors.New("int64 overflow")

// addInt64 is a + b, or ok=false when the sum overflows int64.
func addInt64(a, b int64) (sum int64, ok bool) {
	s := a + b
	if (s > a) != (b > 0) {
		return 0, false
	}
	return s, true
}

// subInt64 is a - b, or ok=false when the difference overflows int64.
func subInt64(a, b int64) (diff int64, ok bool) {
	d := a - b
	if (d < a) != (b > 0) {
		return 0, false
	}
	return d, true
}

// satAdd is a + b saturated at the int64 bounds. It is for comparing
// instants (paid_at + holdDays), never for money.
func satAdd(a, b int64) int64 {
	if s, ok := addInt64(a, b); ok {
		return s
	}
	if b > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// satMul is a × b saturated at the int64 bounds, for a, b >= 0. It turns a
// day count into seconds for comparisons.
func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// floorUnix is the largest whole second <= t.
func floorUnix(t time.Time) int64 { return t.Unix() }

// ceilUnix is the smallest whole second >= t.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// daySeconds is the length of a day in the rules (UTC: no DST).
const daySeconds = 86400
