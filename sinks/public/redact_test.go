package public

import "testing"

func TestPublicText(t *testing.T) {
	for in, want := range map[string]string{
		"no address here":                          "no address here",
		"Reported by jane.doe@example.com: posted": "Reported by [redacted]: posted",
		"(a@b.c), then <x@y.z>.":                   "([redacted]), then <[redacted]>.",
		"@":                                        "[redacted]",
		"\"@\"":                                    "\"[redacted]\"",
		"mail:a@b.c;x":                             "[redacted]",
		"two\ta@b.c\nlines":                        "two\t[redacted]\nlines",
	} {
		if got := publicText(in); got != want {
			t.Errorf("publicText(%q) = %q, want %q", in, got, want)
		}
	}
}
