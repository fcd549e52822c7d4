package public_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
)

// decodeName inverts RefcodeFileName for names that are not hashed.
func decodeName(name string) (string, bool) {
	if name == "~" {
		return "", true
	}
	var b []byte
	for i := 0; i < len(name); i++ {
		if name[i] != '~' {
			b = append(b, name[i])
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		x, err := hex.DecodeString(name[i+1 : i+3])
		if err != nil {
			return "", false
		}
		b = append(b, x[0])
		i += 2
	}
	return string(b), true
}

func checkName(t *testing.T, refcode string) string {
	t.Helper()
	name := public.RefcodeFileName(refcode)
	if name == "" || name == "." || name == ".." || len(name) > 200 {
		t.Errorf("RefcodeFileName(%q) = %q", refcode, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.') {
			t.Errorf("RefcodeFileName(%q) = %q has byte %q", refcode, name, c)
		}
	}
	if filepath.Base(name) != name || strings.ContainsAny(name, "/\\\x00") {
		t.Errorf("RefcodeFileName(%q) = %q is not a plain base name", refcode, name)
	}
	if !strings.Contains(name, ".") {
		if got, ok := decodeName(name); !ok || got != refcode {
			t.Errorf("RefcodeFileName(%q) = %q decodes to %q", refcode, name, got)
		}
	}
	return name
}

func TestRefcodeFileName(t *testing.T) {
	long := strings.Repeat("A", 10_000)
	cases := map[string]string{
		"alice-2024_x": "alice-2024_x",
		"Alice":        "Alice",
		"ALICE2025":    "ALICE2025",
		"a b":          "a~20b",
		"../x":         "~2E~2E~2Fx",
		"a/b":          "a~2Fb",
		"a\\b":         "a~5Cb",
		"nul\x00":      "nul~00",
		".":            "~2E",
		"..":           "~2E~2E",
		"":             "~",
		"~41":          "~7E41",
		"%41":          "~2541",
		"é":            "~C3~A9",
		"con":          "~63on",
		"com1":         "~63om1",
		"CON":          "~43ON",
		"Nul":          "~4Eul",
	}
	for in, want := range cases {
		if got := checkName(t, in); got != want {
			t.Errorf("RefcodeFileName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := checkName(t, long); !strings.HasPrefix(got, "AAAA") || !strings.Contains(got, ".") {
		t.Errorf("10 kB refcode → %q", got)
	}
}

func TestRefcodeFileNameInjective(t *testing.T) {
	inputs := []string{
		"abc", "ABC", "Abc", "aBc", "abC", "a.b", "a..b", "./a", "a/", "/a", "a\x00", "a",
		"pаypal" /* Cyrillic а */, "paypal", "ﬁ", "fi", "ＡBC", "ß", "ss", "SS", "K" /* Kelvin */, "k", "K",
		"~", "~7E", "~~", "-", "_", "a b", "a+b", "a%2Fb", "con", "~63on", "CON", "nul", "Nul",
		strings.Repeat("x", 200), strings.Repeat("x", 201), strings.Repeat("x", 10_000), strings.Repeat("x", 10_001),
		strings.Repeat("Y", 100), strings.Repeat("Y", 101), strings.Repeat("é", 5000), strings.Repeat("é", 5000) + "a",
	}
	seen := map[string]string{}
	for _, in := range inputs {
		name := checkName(t, in)
		if prev, dup := seen[name]; dup && prev != in {
			t.Errorf("%q and %q both map to %q", prev, in, name)
		}
		seen[name] = in
	}
}

func FuzzRefcodeFileName(f *testing.F) {
	for _, s := range []string{"", "a", "A", "../x", "\x00", strings.Repeat("é", 200)} {
		f.Add(s, "b")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		na, nb := checkName(t, a), checkName(t, b)
		if a != b && na == nb {
			t.Errorf("%q and %q map to %q and %q", a, b, na, nb)
		}
	})
}

// Hostile refcodes end up as files inside referrers/ and nowhere else.
func TestHostileRefcodesStayInside(t *testing.T) {
	res := result(0)
	hostile := []string{"../../../escape", "/etc/passwd", "..", ".", "a/../../b", "\x00", "X", "x", strings.Repeat("Z", 10_000), "con", "Ｘ"}
	for _, r := range hostile {
		res.Referrers = append(res.Referrers, pipeline.User{Refcode: r})
	}
	outer := t.TempDir()
	dir := filepath.Join(outer, "public")
	if err := public.New(localdir.Open(dir), 25).Publish(context.Background(), info(id1), res); err != nil {
		t.Fatal(err)
	}
	validate(t, dir)
	ents, err := os.ReadDir(outer)
	if err != nil || len(ents) != 1 {
		t.Fatalf("something escaped the public directory: %v %v", ents, err)
	}
	refs, err := os.ReadDir(filepath.Join(dir, "snapshots", id1, "referrers"))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(hostile) + 2; len(refs) != want {
		t.Errorf("%d referrer files, want %d", len(refs), want)
	}
	var names []string
	for _, e := range refs {
		names = append(names, e.Name())
	}
	for _, r := range hostile {
		want := public.RefcodeFileName(r) + ".json"
		if _, err := os.Stat(filepath.Join(dir, "snapshots", id1, "referrers", want)); err != nil {
			t.Errorf("refcode %q: %v (have %s)", r, err, fmt.Sprint(names))
		}
	}
}

func TestCleanName(t *testing.T) {
	for name, want := range map[string]bool{
		"20260415T000000Z-0123456789ab": true, ".tmp-x": true, "a": true,
		"": false, ".": false, "..": false, "a/b": false, "/a": false, "a/": false, `a\b`: false, "../x": false,
	} {
		if got := public.CleanName(name); got != want {
			t.Errorf("CleanName(%q) = %v, want %v", name, got, want)
		}
	}
}
