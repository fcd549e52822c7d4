package jsonstr

import (
	"encoding/json"
	"testing"
)

func FuzzAppendMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "ref_1", "a\"b", `back\slash`, "<a&b>", "tab\there", "é", "\xff", "\u2028", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("Append(%q) = %s, want x%s", s, got, want)
		}
	})
}
