package public

import "testing"

func TestCommandName(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "unknown"},
		{[]string{"/usr/local/bin/refrecon", "run"}, "refrecon run"},
		{[]string{"refrecon", "cycles", "validate", "https://x/y"}, "refrecon cycles validate"},
		{[]string{"refrecon", "stripe", "export", "--out", "secret.ndjson"}, "refrecon stripe export"},
		{[]string{"./refrecon", "--help"}, "refrecon"},
	} {
		if got := commandName(tc.args); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
