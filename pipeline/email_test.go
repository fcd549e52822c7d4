package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCanonicalEmail(t *testing.T) {
	tests := []struct {
		raw  string
		want string
		ok   bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"  Alice@Example.COM \t", "alice@example.com", true},
		{"alice+promo@example.com", "alice@example.com", true},
		{"alice+a+b@example.com", "alice@example.com", true},
		{"a.l.i.c.e@example.com", "a.l.i.c.e@example.com", true}, // dots kept outside gmail
		{"A.Lice+x@GMail.com", "alice@gmail.com", true},
		{"a.lice@googlemail.com", "alice@gmail.com", true},
		{"alice@googlemail.com", "alice@gmail.com", true},
		{"alice@mail.gmail.com", "alice@mail.gmail.com", true}, // subdomain is not gmail
		{"+x@example.com", "+x@example.com", true},             // leading '+' is not a tag
		{"+x@gmail.com", "+x@gmail.com", true},
		{"a+@example.com", "a@example.com", true},
		{"...@gmail.com", "", false},
		{".+x@gmail.com", "", false},
		{"", "", false},
		{"   ", "", false},
		{"alice", "", false},
		{"@example.com", "", false},
		{"alice@", "", false},
		{"a@b@c.com", "", false},
		{"@", "", false},
		{"a b@c", "a b@c", true},
		{". x@gmail.com", "x@gmail.com", true}, // fixed point: dots hid a space
	}
	for _, tt := range tests {
		got, ok := CanonicalEmail(tt.raw)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	if got := normalizeEmail("  A.Lice+X@GMail.com "); got != "a.lice+x@gmail.com" {
		t.Errorf("normalizeEmail = %q", got)
	}
}

func FuzzCanonicalEmail(f *testing.F) {
	for _, s := range []string{"alice@example.com", "A.Lice+x@GoogleMail.com", "@", "a@b@c", " . x@gmail.com", "\u212a@k.com", "\xff@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, ok := CanonicalEmail(raw)
		if !ok {
			if c != "" {
				t.Fatalf("CanonicalEmail(%q) = %q with ok=false", raw, c)
			}
			return
		}
		if strings.Count(c, "@") != 1 || strings.HasPrefix(c, "@") || strings.HasSuffix(c, "@") {
			t.Fatalf("CanonicalEmail(%q) = %q: not one '@' between non-empty parts", raw, c)
		}
		c2, ok2 := CanonicalEmail(c)
		if !ok2 || c2 != c {
			t.Fatalf("not idempotent: CanonicalEmail(%q) = %q, CanonicalEmail(%q) = %q, %v", raw, c, c, c2, ok2)
		}
		if utf8.ValidString(raw) && !utf8.ValidString(c) {
			t.Fatalf("CanonicalEmail(%q) = %q: invalid UTF-8", raw, c)
		}
	})
}

func ExampleCanonicalEmail() {
	for _, raw := range []string{" J.Doe+news@GoogleMail.com", "jane+x@example.com", "not-an-email"} {
		c, ok := CanonicalEmail(raw)
		fmt.Printf("%q %v\n", c, ok)
	}
	// Output:
	// "jdoe@gmail.com" true
	// "jane@example.com" true
	// "" false
}
