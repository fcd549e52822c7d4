package redact_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sources/redact"
)

func TestURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://example.com/cycles.json", "https://example.com/cycles.json"},
		{"https://ops:s3cret@example.com/cycles.json", "https://example.com/cycles.json"},
		{"https://ops@example.com:8443/c.json", "https://example.com:8443/c.json"},
		{"https://example.com/c.json?X-Goog-Signature=abc&b=1", "https://example.com/c.json"},
		{"https://example.com/c.json?", "https://example.com/c.json"},
		{"https://example.com/c.json#token=abc", "https://example.com/c.json"},
		{"https://u:p@ss@example.com/c.json", "https://example.com/c.json"},
		{"file:///etc/refrecon/cycles.json", "file:///etc/refrecon/cycles.json"},
		{"file:///etc/refrecon/cycles.json?x=1", "file:///etc/refrecon/cycles.json"},
		{"s3://bucket/prefix?region=eu&endpoint=https://key:secret@r2.example", "s3://bucket/prefix"},
		{"gs://bucket/prefix?access_token=abc", "gs://bucket/prefix"},
		// URLs that do not parse are cut by hand.
		{"https://ops:s3 cret@example.com/c.json?sig=1", "https://example.com/c.json"},
		{"https://ops:pa?ss@example.com/c.json", "https://example.com/c.json"},
		{"https://ops:pa#ss@example.com/c.json", "https://example.com/c.json"},
		{"https://example.com:port/c.json?sig=1", "https://example.com:port/c.json"},
		{"http://[::1?token=abc", "http://[::1"},
		{"ops:s3cret@example.com/c.json", "example.com/c.json"},
		{"cycles.json?sig=1", "cycles.json"},
	} {
		if got := redact.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBase(t *testing.T) {
	for _, ok := range []string{"https://api.stripe.com", "http://127.0.0.1:12111/", "https://api.cloudflare.com/client/v4"} {
		if _, err := redact.Base(ok); err != nil {
			t.Errorf("Base(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{
		"http://127.0.0.1:1/?token=SECRET", "https://host/x#SECRET", "https://user:SECRET@host/", "https://host/?",
		"ftp://user:SECRET@host/?token=SECRET", "http://[::1?token=SECRET", "host/path?token=SECRET", "",
	} {
		_, err := redact.Base(bad)
		if !errors.Is(err, redact.ErrBadBase) {
			t.Errorf("Base(%q) = %v, want ErrBadBase", bad, err)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Base(%q): the error %q shows the secret", bad, err)
		}
	}
}

func TestURLsIn(t *testing.T) {
	in := `open bucket gs://user:PASSWORD@bucket?token=SECRET#FRAG: invalid query parameter "token"; see "s3://b/p?endpoint=http://k:PW@host" and https://x.example/a?b=SECRET.`
	got := redact.URLsIn(in)
	want := `open bucket gs://bucket: invalid query parameter "token"; see "s3://b/p" and https://x.example/a.`
	if got != want {
		t.Errorf("URLsIn:\n got %s\nwant %s", got, want)
	}
}
