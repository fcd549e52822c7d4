package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	stripeexport "github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
	"github.com/refrecon/refrecon/sources/stripe/stripetest"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
)

const testStripeKey = "sk_test_51CmdTestKeyNeverPrinted"

func stripeCase(t *testing.T) stripetest.Case {
	t.Helper()
	for _, c := range stripetest.Cases() {
		if c.Name == "shapes" {
			return c
		}
	}
	t.Fatal("no shapes case")
	return stripetest.Case{}
}

func runStripeExport(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for _, k := range []string{"STRIPE_SOURCE", "STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_RATE_LIMIT", "LOG_FORMAT", "LOG_LEVEL"} {
		t.Setenv(k, env[k])
		if env[k] == "" {
			os.Unsetenv(k)
		}
	}
	var out, errb bytes.Buffer
	code = runMain(t.Context(), append([]string{"stripe", "export"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestStripeExportCommand(t *testing.T) {
	c := stripeCase(t)
	fake := stripefake.New(t, testStripeKey, c.NDJSON)
	path := filepath.Join(t.TempDir(), "stripe.ndjson")
	code, stdout, stderr := runStripeExport(t, map[string]string{
		"STRIPE_SECRET_KEY": testStripeKey, "STRIPE_API_BASE": fake.URL, "STRIPE_RATE_LIMIT": "1000",
		"STRIPE_SOURCE": "bogus (ignored by export)",
	}, "--out", path)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote ") || !strings.Contains(stdout, path) {
		t.Errorf("stdout = %q", stdout)
	}
	if strings.Contains(stdout+stderr, testStripeKey) {
		t.Error("the key was printed")
	}
	got, err := stripeexport.NewFile(path).ReadStripe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := stripetest.Diff(c.Want, got); d != "" {
		t.Errorf("the export reads back differently:\n%s", d)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode: %v, %v", fi.Mode(), err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestStripeExportFailureLeavesFileAlone(t *testing.T) {
	fake := stripefake.New(t, testStripeKey, stripeCase(t).NDJSON)
	path := filepath.Join(t.TempDir(), "stripe.ndjson")
	if err := os.WriteFile(path, []byte("previous export\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const wrong = "sk_live_51WrongKeyMustNotAppear"
	code, _, stderr := runStripeExport(t, map[string]string{
		"STRIPE_SECRET_KEY": wrong, "STRIPE_API_BASE": fake.URL, "STRIPE_RATE_LIMIT": "1000",
	}, "--out", path)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailed, stderr)
	}
	if !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "(refused_credential: ") ||
		strings.Contains(stderr, wrong) || strings.Contains(stderr, "51WrongKey") {
		t.Errorf("stderr = %q", stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "previous export\n" {
		t.Errorf("the old export was changed: %q", b)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

// An error is printed once, with the command's name once: the context is
// added where it is known, not again by each caller.
func TestStripeExportErrorWrappedOnce(t *testing.T) {
	fake := stripefake.New(t, testStripeKey, stripeCase(t).NDJSON)
	path := filepath.Join(t.TempDir(), "missing-dir", "stripe.ndjson")
	code, _, stderr := runStripeExport(t, map[string]string{
		"STRIPE_SECRET_KEY": testStripeKey, "STRIPE_API_BASE": fake.URL, "STRIPE_RATE_LIMIT": "1000",
	}, "--out", path)
	want := "refrecon stripe export: open " + path + ".tmp: no such file or directory\n"
	if code != exitFailed || stderr != want {
		t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr, exitFailed, want)
	}
}

func TestStripeExportUsageAndConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"help", nil, []string{"--help"}, exitOK, "Usage: refrecon stripe export --out FILE", ""},
		{"no out", map[string]string{"STRIPE_SECRET_KEY": testStripeKey}, nil, exitConfig, "", "--out FILE is required"},
		{"stray argument", nil, []string{"--out", filepath.Join(dir, "x"), "extra"}, exitConfig, "", "unexpected arguments"},
		{"no key", nil, []string{"--out", filepath.Join(dir, "x")}, exitConfig, "", "STRIPE_SECRET_KEY is not set"},
		{"zero rate", map[string]string{"STRIPE_SECRET_KEY": testStripeKey, "STRIPE_RATE_LIMIT": "0"},
			[]string{"--out", filepath.Join(dir, "x")}, exitConfig, "", "STRIPE_RATE_LIMIT"},
		{"bad base", map[string]string{"STRIPE_SECRET_KEY": testStripeKey, "STRIPE_API_BASE": "stripe.example"},
			[]string{"--out", filepath.Join(dir, "x")}, exitConfig, "", "base URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runStripeExport(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.inStdout) || !strings.Contains(stderr, tc.inStderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if strings.Contains(stderr, testStripeKey) {
				t.Error("the key was printed")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed command wrote its output: %v", err)
	}
}

func TestNewStripeSource(t *testing.T) {
	c := stripeCase(t)
	fake := stripefake.New(t, testStripeKey, c.NDJSON)
	exportPath := filepath.Join(t.TempDir(), "s.ndjson")
	if err := os.WriteFile(exportPath, c.NDJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		env       map[string]string
		configErr string // "" = no error
		want      *stripetest.Case
	}{
		{"embedded fixture", nil, "", nil},
		{"file", map[string]string{"STRIPE_SOURCE": "file:" + exportPath}, "", &c},
		{"file without path", map[string]string{"STRIPE_SOURCE": "file:"}, "STRIPE_SOURCE", nil},
		{"api", map[string]string{"STRIPE_SOURCE": "api", "STRIPE_SECRET_KEY": testStripeKey, "STRIPE_API_BASE": fake.URL,
			"STRIPE_RATE_LIMIT": "1000"}, "", &c},
		{"api without key", map[string]string{"STRIPE_SOURCE": "api"}, "STRIPE_SECRET_KEY", nil},
		{"api negative rate", map[string]string{"STRIPE_SOURCE": "api", "STRIPE_SECRET_KEY": testStripeKey, "STRIPE_RATE_LIMIT": "-5"},
			"STRIPE_RATE_LIMIT", nil},
		{"unknown", map[string]string{"STRIPE_SOURCE": "sqlite:x"}, `STRIPE_SOURCE "sqlite:x"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(t.Context(), envconfig.MapLookuper(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			src, err := newStripeSource(cfg, zerolog.Nop())
			if tc.configErr != "" {
				var ce *configError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.configErr) {
					t.Fatalf("err = %v, want a configuration error naming %s", err, tc.configErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.ReadStripe(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil { // the embedded fixture: some customers at least
				if len(got.Customers) == 0 {
					t.Error("the embedded fixture has no customers")
				}
				return
			}
			if d := stripetest.Diff(tc.want.Want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

// A symlink at FILE.tmp (planted, or left by anyone) is unlinked, never
// written through: its target keeps its bytes, and FILE is the export.
func TestStripeExportNeverWritesThroughASymlink(t *testing.T) {
	fake := stripefake.New(t, testStripeKey, stripeCase(t).NDJSON)
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stripe.ndjson")
	if err := os.Symlink(target, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runStripeExport(t, map[string]string{
		"STRIPE_SECRET_KEY": testStripeKey, "STRIPE_API_BASE": fake.URL, "STRIPE_RATE_LIMIT": "1000",
	}, "--out", path)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s: %v, %v; want the export as a regular file", path, fi, err)
	}
}
