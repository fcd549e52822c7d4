package pipeline

import (
	"errors"
	"time"
)

// ParseRFC3339 parses an RFC 3339 instant (fractional seconds allowed) the
// way RFC 3339 section 5.6 defines it. time.Parse with time.RFC3339 also
// takes offsets RFC 3339 does not have (+24:00, +00:60); those are errors
// here. Every RFC 3339 value refrecon reads (referred_at, cycle times,
// AS_OF) is parsed with it.
func ParseRFC3339(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	if !validOffset(s) {
		return time.Time{}, errBadOffset
	}
	return t, nil
}

var errBadOffset = errors.New("time zone offset out of range: RFC 3339 offsets are -23:59..+23:59")

// validOffset checks the offset at the end of a string time.Parse accepted
// as RFC 3339: "Z" (any case) or ±hh:mm with hh <= 23 and mm <= 59.
func validOffset(s string) bool {
	if n := len(s); n > 0 && (s[n-1] == 'Z' || s[n-1] == 'z') {
		return true
	}
	if len(s) < 6 {
		return false
	}
	off := s[len(s)-6:]
	if off[0] != '+' && off[0] != '-' || off[3] != ':' {
		return false
	}
	return off[1:3] <= "23" && off[4:6] <= "59"
}
