package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/sethvargo/go-envconfig"
)

// cyclesSpring is one valid cycle.
const cyclesSpring = `{"id": "spring", "displayName": "Spring Share", "rulesUrl": "https://example.com/spring",
 "rules": {"awardModel": "rev-share-cap", "startTime": "2026-04-01T00:00:00Z", "endTime": "2026-04-30T23:59:59Z",
  "currency": "jpy", "awardPool": {"currency": "jpy", "amount": "50000"},
  "minQualifyingRevenue": {"currency": "jpy", "amount": "1000"}, "revenueShareBps": 500,
  "eligiblePlans": [], "holdDays": 7, "attributionDays": 30, "minPaymentsToConvert": 1,
  "areAwardsDistributed": false, "adminActions": []}}`

const cyclesCustomSet = "[" + cyclesSpring + "]"

// cyclesBadSet has three problems in two cycles.
var cyclesBadSet = "[" +
	strings.NewReplacer(`"amount": "50000"`, `"amount": "500.00"`,
		`"revenueShareBps": 500,`, `"revenueShareBps": 500, "bonus": 1,`).Replace(cyclesSpring) +
	",\n" +
	strings.NewReplacer(`"spring"`, `"summer"`, "2026-04-", "2026-06-",
		`"revenueShareBps": 500,`, `"revenueShareBps": 500, "bonus": 1,`).Replace(cyclesSpring) +
	"]"

// cyclesServer serves the documents by path; anything else is a 404.
func cyclesServer(t *testing.T, docs map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func runCycles(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCyclesBadSetFixture(t *testing.T) {
	_, err := pipeline.DecodeCycleSet([]byte(cyclesBadSet))
	want := "[0].rules.awardPool.amount: must be a non-negative integer string, got \"500.00\"\n" +
		"[0].rules.bonus: unknown key\n" +
		"[1].rules.bonus: unknown key"
	if err == nil || err.Error() != want {
		t.Fatalf("test document: got %v\nwant %s", err, want)
	}
}

func TestLoadCycleSet(t *testing.T) {
	srv := cyclesServer(t, map[string]string{"/custom.json": cyclesCustomSet, "/bad.json": cyclesBadSet})
	dir := t.TempDir()
	file := filepath.Join(dir, "cycles.json")
	if err := os.WriteFile(file, []byte(cyclesCustomSet), 0o600); err != nil {
		t.Fatal(err)
	}
	secretURL := func(path string) string {
		return strings.Replace(srv.URL, "http://", "http://ops:s3cret@", 1) + path + "?sig=abc#frag"
	}

	t.Run("default", func(t *testing.T) {
		set, err := loadCycleSet(context.Background(), &config{})
		if err != nil || !reflect.DeepEqual(set, pipeline.DefaultCycleSet()) {
			t.Fatalf("got %+v, %v; want the default set", set, err)
		}
	})
	for _, url := range []string{srv.URL + "/custom.json", secretURL("/custom.json"), "file://" + file} {
		t.Run("custom "+url, func(t *testing.T) {
			set, err := loadCycleSet(context.Background(), &config{CyclesURL: url})
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Cycles) != 1 || set.Cycles[0].ID != "spring" || set.Cycles[0].Rules.Currency != "jpy" {
				t.Fatalf("got %+v, want the custom set", set)
			}
		})
	}

	for _, tt := range []struct {
		name, url, want string
	}{
		{"invalid set", secretURL("/bad.json"), "CUSTOM_REFERRAL_PROGRAM_CYCLES: load cycle set from " + srv.URL + "/bad.json: invalid cycle set:\n" +
			"[0].rules.awardPool.amount: must be a non-negative integer string, got \"500.00\"\n" +
			"[0].rules.bonus: unknown key\n" +
			"[1].rules.bonus: unknown key"},
		{"not found", secretURL("/gone.json"), "CUSTOM_REFERRAL_PROGRAM_CYCLES: load cycle set from " + srv.URL + "/gone.json: HTTP 404 Not Found"},
		{"relative", "cycles.json", "CUSTOM_REFERRAL_PROGRAM_CYCLES: load cycle set from cycles.json: not an absolute http://, https:// or file:// URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set, err := loadCycleSet(context.Background(), &config{CyclesURL: tt.url})
			var cfgErr *configError
			if !errors.As(err, &cfgErr) {
				t.Fatalf("got %+v, %v; want a configuration error", set, err)
			}
			if err.Error() != tt.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "sig=") {
				t.Errorf("error reveals the URL's secrets: %v", err)
			}
		})
	}
}

func TestCyclesValidateCommand(t *testing.T) {
	srv := cyclesServer(t, map[string]string{"/custom.json": cyclesCustomSet, "/bad.json": cyclesBadSet})

	code, stdout, stderr := runCycles("cycles", "validate", srv.URL+"/custom.json?sig=abc")
	if code != exitOK || stderr != "" {
		t.Fatalf("valid set: exit %d, stderr %q", code, stderr)
	}
	custom, err := pipeline.DecodeCycleSet([]byte(cyclesCustomSet))
	if err != nil {
		t.Fatal(err)
	}
	want := srv.URL + "/custom.json: valid, 1 cycle, sha256 " + custom.SHA256() + "\n\n" +
		"ID      NAME          MODEL          WINDOW (UTC, inclusive)                       CURRENCY  POOL\n" +
		"spring  Spring Share  rev-share-cap  2026-04-01T00:00:00Z .. 2026-04-30T23:59:59Z  jpy       50000\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	code, stdout, stderr = runCycles("cycles", "validate", srv.URL+"/bad.json")
	wantErr := "refrecon cycles validate: configuration error: CUSTOM_REFERRAL_PROGRAM_CYCLES: load cycle set from " + srv.URL + "/bad.json: invalid cycle set:\n" +
		"[0].rules.awardPool.amount: must be a non-negative integer string, got \"500.00\"\n" +
		"[0].rules.bonus: unknown key\n" +
		"[1].rules.bonus: unknown key\n"
	if code != exitConfig || stdout != "" || stderr != wantErr {
		t.Errorf("invalid set: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", code, stdout, stderr, wantErr)
	}

	code, _, stderr = runCycles("cycles", "validate", srv.URL+"/missing.json")
	if code != exitConfig || !strings.Contains(stderr, "CUSTOM_REFERRAL_PROGRAM_CYCLES: load cycle set from "+srv.URL+"/missing.json: HTTP 404 Not Found") {
		t.Errorf("missing set: exit %d, stderr %q", code, stderr)
	}
}

// Without a URL argument, validate checks the configured set.
func TestCyclesValidateConfigured(t *testing.T) {
	srv := cyclesServer(t, map[string]string{"/custom.json": cyclesCustomSet, "/bad.json": cyclesBadSet})
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string // "" = valid
		wantOut string // a line of the summary
	}{
		{"default", map[string]string{}, "", "cycle-1  Holiday Awards  pie-split  2025-12-01T00:00:00Z .. 2025-12-31T23:59:59Z  usd       10000.00"},
		{"custom", map[string]string{cyclesEnvVar: srv.URL + "/custom.json"}, "", "spring  Spring Share"},
		{"invalid", map[string]string{cyclesEnvVar: srv.URL + "/bad.json"}, "[1].rules.bonus: unknown key", ""},
		{"other variable invalid", map[string]string{"RECORDS_PER_PAGE": "many"}, `"many"`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := cyclesValidateCommand(context.Background(), nil, &stdout, &stderr, envconfig.MapLookuper(tt.env))
			if tt.wantErr == "" {
				if err != nil || !strings.Contains(stdout.String(), tt.wantOut) {
					t.Fatalf("err %v, stdout:\n%s\nwant a line %q", err, stdout.String(), tt.wantOut)
				}
				return
			}
			var cfgErr *configError
			if !errors.As(err, &cfgErr) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want a configuration error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCyclesDefaultCommand(t *testing.T) {
	code, stdout, stderr := runCycles("cycles", "default")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	set, err := pipeline.DecodeCycleSet([]byte(stdout))
	if err != nil {
		t.Fatalf("output does not decode: %v\n%s", err, stdout)
	}
	if !reflect.DeepEqual(set, pipeline.DefaultCycleSet()) {
		t.Fatalf("output decodes to %+v, want the default set", set)
	}
	if !strings.HasPrefix(stdout, "[\n  {\n    \"id\": \"cycle-1\",\n") || !strings.HasSuffix(stdout, "]\n") {
		t.Errorf("output is not indented JSON:\n%s", stdout)
	}
}

func TestCyclesCommandLine(t *testing.T) {
	for _, tt := range []struct {
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{[]string{"cycles", "validate", "--help"}, exitOK, "Usage: refrecon cycles validate [URL]", ""},
		{[]string{"cycles", "validate", "-h"}, exitOK, "Usage: refrecon cycles validate [URL]", ""},
		{[]string{"cycles", "default", "--help"}, exitOK, "Usage: refrecon cycles default", ""},
		{[]string{"cycles", "validate", "--strict"}, exitConfig, "", "flag provided but not defined: -strict"},
		{[]string{"cycles", "validate", "file:///a.json", "file:///b.json"}, exitConfig, "", "at most one URL"},
		{[]string{"cycles", "validate", ""}, exitConfig, "", "the URL is empty"},
		{[]string{"cycles", "default", "extra"}, exitConfig, "", "unexpected arguments"},
		{[]string{"cycles", "validate", "ftp://example.com/c.json"}, exitConfig, "", "not an absolute http://, https:// or file:// URL"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCycles(tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}
