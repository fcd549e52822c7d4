package referrals_test

import (
	"testing"

	"github.com/refrecon/refrecon/sources/referrals"
)

func TestTimestampValue(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"2024-01-01 00:00:00", "2024-01-01 00:00:00"},
		{" anything ", " anything "},
		{int64(0), "1970-01-01T00:00:00Z"},
		{int64(-1), "1969-12-31T23:59:59Z"},
		{int64(253402300799), "9999-12-31T23:59:59Z"},
		{int64(253402300800), "253402300800"},
		{int64(-62167219201), "-62167219201"},
		{int64(1 << 62), "4611686018427387904"},
		{1.5, "1970-01-01T00:00:01.5Z"},
		{-0.5, "1969-12-31T23:59:59.5Z"},
		{1e300, "1e+300"},
		{[]byte("2024-01-01"), "2024-01-01"},
	} {
		if got := referrals.TimestampValue(c.in); got != c.want {
			t.Errorf("TimestampValue(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBoolValue(t *testing.T) {
	for _, c := range []struct {
		in      any
		want    bool
		wantErr bool
	}{
		{nil, false, false}, {int64(0), false, false}, {int64(1), true, false},
		{0.0, false, false}, {1.0, true, false}, {"true", true, false}, {" FALSE ", false, false},
		{"1", true, false}, {"0", false, false}, {[]byte("true"), true, false},
		{int64(2), false, true}, {"yes", false, true}, {"", false, true}, {0.5, false, true},
	} {
		got, err := referrals.BoolValue(c.in)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("BoolValue(%#v) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}
