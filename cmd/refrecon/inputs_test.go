package main

// Whole runs against inputs an adversarial user would try (issue #14):
// file inputs that are not regular files, and the like. Helpers are
// prefixed inp*.

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/sinks/public/schema"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
)

// inpFIFO makes a named pipe that nobody writes to: an ordinary open of it
// for reading blocks forever, ignoring RUN_TIMEOUT and SIGTERM.
func inpFIFO(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	return p
}

// Every file input refuses a named pipe and a device before opening it: the
// run ends with a message naming the variable's path and what it is, and
// nothing is published.
func TestInputsThatAreNotRegularFiles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		variable string
		value    func(path string) string
		code     int
	}{
		{"cycle set", "CUSTOM_REFERRAL_PROGRAM_CYCLES", func(p string) string { return "file://" + p }, exitConfig},
		{"sqlite referrals", "REFERRALS_SOURCE", func(p string) string { return "sqlite:" + p }, exitFailed},
		{"d1dump referrals", "REFERRALS_SOURCE", func(p string) string { return "d1dump:" + p }, exitFailed},
		{"stripe export", "STRIPE_SOURCE", func(p string) string { return "file:" + p }, exitFailed},
	} {
		for what, path := range map[string]string{"named pipe": inpFIFO(t), "character device": "/dev/zero"} {
			t.Run(tc.name+"/"+what, func(t *testing.T) {
				d := newDirs(t)
				code, stdout, stderr := runMainEnv(t, d.env(fixtureAsOf, tc.variable, tc.value(path)), "run")
				if code != tc.code {
					t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
				}
				if !strings.Contains(stderr, path) || !strings.Contains(stderr, "not a regular file: it is a "+what) {
					t.Errorf("stderr does not name %s as a %s:\n%s", path, what, stderr)
				}
				mustNotExist(t, filepath.Join(d.Public, "latest.json"), filepath.Join(d.Public, "snapshots"), d.Private)
			})
		}
	}
}

// A bad STRIPE_RATE_LIMIT is reported as STRIPE_RATE_LIMIT, not as a problem
// of the key or base URL; a bad number in any numeric variable names it.
func TestBadNumbersNameTheirVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"STRIPE_RATE_LIMIT", "Inf"},
		{"STRIPE_RATE_LIMIT", "+Inf"},
		{"STRIPE_RATE_LIMIT", "NaN"},
		{"STRIPE_RATE_LIMIT", "-5"},
		{"STRIPE_RATE_LIMIT", "0"},
		{"STRIPE_RATE_LIMIT", "1e400"},
		{"RECORDS_PER_PAGE", "0x19"},
		{"RECORDS_PER_PAGE", "-025"},
		{"KEEP_SNAPSHOTS", "0x10"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			d := newDirs(t)
			env := d.env(fixtureAsOf, "STRIPE_SOURCE", "api", "STRIPE_SECRET_KEY", "sk_test_x", tc.name, tc.value)
			code, _, stderr := runMainEnv(t, env, "run")
			if code != exitConfig || !strings.Contains(stderr, tc.name) {
				t.Errorf("exit %d, stderr %q: want exit 2 naming %s", code, stderr, tc.name)
			}
			if tc.name == "STRIPE_RATE_LIMIT" && strings.Contains(stderr, "STRIPE_SECRET_KEY") {
				t.Errorf("stderr blames the key: %s", stderr)
			}
		})
	}
}

// RECORDS_PER_PAGE=025 is 25 records per page (decimal, never octal 21).
func TestRecordsPerPageLeadingZero(t *testing.T) {
	d := newDirs(t)
	mustRun(t, d.env(fixtureAsOf, "RECORDS_PER_PAGE", "025"))
	latest, err := os.ReadFile(filepath.Join(d.Public, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var l struct{ Path string }
	if err := json.Unmarshal(latest, &l); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(d.Public, l.Path, "cycles", "*", "leaderboard", "1.json"))
	if len(pages) == 0 {
		t.Fatal("no leaderboard page")
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			PageContext struct{ RecordsPerPage int } `json:"pageContext"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		if page.PageContext.RecordsPerPage != 25 {
			t.Errorf("%s: recordsPerPage %d, want 25", p, page.PageContext.RecordsPerPage)
		}
	}
}

// An empty cycle set is valid (SPEC 1.3, between programs): the run
// publishes cycles.json with no cycles and a referrer file per refcode with
// no cycles in it.
func TestEmptyCycleSetPublishesReferrersWithoutCycles(t *testing.T) {
	d := newDirs(t)
	set := filepath.Join(d.Root, "cycles.json")
	if err := os.WriteFile(set, []byte("[]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, d.env(fixtureAsOf, "CUSTOM_REFERRAL_PROGRAM_CYCLES", "file://"+set))
	root := inpLatest(t, d.Public)
	var cycles struct{ Cycles []json.RawMessage }
	inpReadJSON(t, filepath.Join(root, "cycles.json"), &cycles)
	if cycles.Cycles == nil || len(cycles.Cycles) != 0 {
		t.Errorf("cycles.json cycles = %v, want []", cycles.Cycles)
	}
	refs, _ := filepath.Glob(filepath.Join(root, "referrers", "*.json"))
	if len(refs) == 0 {
		t.Fatal("no referrer files")
	}
	for _, p := range refs {
		var r struct {
			Refcode string
			Cycles  map[string]json.RawMessage
		}
		inpReadJSON(t, p, &r)
		if r.Refcode == "" || r.Cycles == nil || len(r.Cycles) != 0 {
			t.Errorf("%s: refcode %q, cycles %v; want an empty cycles object", p, r.Refcode, r.Cycles)
		}
	}
	if err := schema.ValidateSnapshot(os.DirFS(d.Public)); err != nil {
		t.Errorf("the snapshot does not validate against the public schemas: %v", err)
	}
}

// inpLatest is the directory of the snapshot latest.json names.
func inpLatest(t *testing.T, public string) string {
	t.Helper()
	var l struct{ Path string }
	inpReadJSON(t, filepath.Join(public, "latest.json"), &l)
	return filepath.Join(public, filepath.FromSlash(l.Path))
}

func inpReadJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// inpURLVariables is every variable that holds a URL, with what the run
// needs for that variable to be used. PUBLIC_DIR takes bucket
// URLs (issue #16): its cases are bucket URLs.
var inpURLVariables = map[string][]string{
	"STRIPE_API_BASE":                {"STRIPE_SOURCE", "api", "STRIPE_SECRET_KEY", "sk_test_x"},
	"D1_API_BASE":                    {"REFERRALS_SOURCE", "d1", "D1_ACCOUNT_ID", "acc", "D1_DATABASE_ID", "db", "D1_API_TOKEN", "tok"},
	"BIGQUERY_ENDPOINT":              {"WAREHOUSE", "bigquery:proj.ds"},
	"CUSTOM_REFERRAL_PROGRAM_CYCLES": nil,
	"PUBLIC_DIR":                     nil,
}

// No URL's credentials, query string or fragment reaches a message or log
// line, whatever the URL looks like and wherever it fails; the message names
// the variable.
func TestURLVariablesNeverShowTheirSecrets(t *testing.T) {
	for _, name := range configVars() {
		if _, ok := inpURLVariables[name]; !ok && (strings.Contains(name, "_BASE") || strings.Contains(name, "ENDPOINT") ||
			strings.Contains(name, "URL") || strings.Contains(name, "CYCLES")) {
			t.Errorf("%s looks like a URL variable; add it to inpURLVariables", name)
		}
	}
	secrets := []string{"PASSWORD", "QUERYSECRET", "FRAGSECRET"}
	for name, needs := range inpURLVariables {
		for _, value := range []string{
			"ftp://user:PASSWORD@example.com/x?token=QUERYSECRET#FRAGSECRET",   // wrong scheme
			"http://user:PASSWORD@127.0.0.1:1/x?token=QUERYSECRET#FRAGSECRET",  // unreachable
			"http://127.0.0.1:1/x?token=QUERYSECRET",                           // a query alone
			"http://[::1?token=QUERYSECRET",                                    // does not parse
			"https://user:PASS WORD@example.com/?token=QUERYSECRET#FRAGSECRET", // does not parse either
			"s3://user:PASSWORD@bucket/x?region=QUERYSECRET&endpoint=http://k:PASSWORD@127.0.0.1:1#FRAGSECRET",
			"gs://user:PASSWORD@bucket/x?token=QUERYSECRET#FRAGSECRET",
		} {
			if name == "PUBLIC_DIR" && !strings.HasPrefix(value, "s3:") && !strings.HasPrefix(value, "gs:") && !strings.HasPrefix(value, "ftp:") {
				continue // an http(s) PUBLIC_DIR is a directory path with a colon in it
			}
			t.Run(name+"="+value, func(t *testing.T) {
				// No request may leave the machine: no instance metadata, no
				// credential chain.
				t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
				t.Setenv("AWS_ACCESS_KEY_ID", "test")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
				t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
				d := newDirs(t)
				env := d.env(fixtureAsOf, append(append([]string{}, needs...), name, value)...)
				code, stdout, stderr := runMainEnv(t, env, "run")
				if code == exitOK {
					t.Fatalf("exit 0 with %s=%s", name, value)
				}
				out := stdout + stderr
				if !strings.Contains(out, name) {
					t.Errorf("the message does not name %s:\n%s", name, out)
				}
				for _, s := range append(secrets, "PASS WORD") {
					if strings.Contains(out, s) {
						t.Errorf("the output shows %q:\n%s", s, out)
					}
				}
			})
		}
	}
}

// inpMustRun runs the job in process and fails the test when the run fails.
// Unlike mustRun it does not validate every retained snapshot afterwards:
// the tests that use it damage old snapshots on purpose.
func inpMustRun(t *testing.T, env map[string]string) *reconcile.Report {
	t.Helper()
	cfg, err := loadConfig(t.Context(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	rep, err := runOnce(t.Context(), cfg, zerolog.New(zerolog.SyncWriter(&logs)))
	if err != nil {
		t.Fatalf("run with %v: %v\nlogs:\n%s", env, err, logs.String())
	}
	return rep
}

// PRIVATE_DIR equal to or inside PUBLIC_DIR (emails in the web root) is a
// configuration error, found before anything is read or written, also
// through a symlink.
func TestPrivateDirInsidePublicDir(t *testing.T) {
	d := newDirs(t)
	link := filepath.Join(d.Root, "link-to-public")
	if err := os.MkdirAll(d.Public, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d.Public, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]string{
		{d.Public, d.Public}, {d.Public, d.Public + "/"}, {d.Public, filepath.Join(d.Public, "private")},
		{d.Public, filepath.Join(d.Public, "a", "..", "b")}, {d.Public, filepath.Join(link, "private")},
		{"file://" + d.Public, filepath.Join(d.Public, "private")},
	} {
		pub, priv := tc[0], tc[1]
		code, _, stderr := runMainEnv(t, d.env(fixtureAsOf, "PUBLIC_DIR", pub, "PRIVATE_DIR", priv), "run")
		if code != exitConfig || !strings.Contains(stderr, "PRIVATE_DIR") || !strings.Contains(stderr, "inside PUBLIC_DIR") {
			t.Errorf("PRIVATE_DIR=%s: exit %d, stderr %q; want exit 2 naming PRIVATE_DIR inside PUBLIC_DIR", priv, code, stderr)
		}
		mustNotExist(t, filepath.Join(d.Public, "latest.json"), filepath.Join(d.Public, "private"), filepath.Join(d.Public, "b"))
	}
	for _, priv := range []string{filepath.Join(d.Root, "public-private"), d.Root + "/private"} {
		if msg := privateInsidePublic(priv, d.Public); msg != "" {
			t.Errorf("PRIVATE_DIR=%s is beside PUBLIC_DIR, not inside: %s", priv, msg)
		}
	}
}

// inpPrivateState is what a refused run must leave alone: the public tree,
// the private files and the warehouse's bytes.
func inpPrivateState(t *testing.T, d e2eDirs) map[string][]byte {
	t.Helper()
	m := outputTree(t, d, func(string) bool { return true })
	b, err := os.ReadFile(d.Warehouse)
	if err != nil {
		t.Fatal(err)
	}
	m["warehouse"] = b
	return m
}

// A run from the embedded fixtures (a source variable unset, or
// "fixture") never publishes over a snapshot made from real sources: it
// exits 1 naming the variable to set, and writes nothing. Over a snapshot
// made from fixtures it publishes, records its sources in the manifest and
// warns.
func TestFixturesNeverReplaceRealData(t *testing.T) {
	d := newDirs(t)
	real := []string{"REFERRALS_SOURCE", "sqlite:" + repoFile(t, "fixtures/referrals.sqlite"), "STRIPE_SOURCE", "file:" + repoFile(t, "fixtures/stripe.ndjson")}
	inpMustRun(t, d.env(fixtureAsOf, real...))
	var m struct {
		Inputs struct{ Sources map[string]string }
	}
	inpReadJSON(t, filepath.Join(inpLatest(t, d.Public), "manifest.json"), &m)
	if m.Inputs.Sources["referrals"] != "sqlite" || m.Inputs.Sources["stripe"] != "file" {
		t.Fatalf("manifest sources %v, want referrals sqlite, stripe file", m.Inputs.Sources)
	}
	before := inpPrivateState(t, d)
	for _, tc := range []struct {
		name string
		env  []string
		want []string
		not  string
	}{
		{"referrals unset", []string{"REFERRALS_SOURCE", "", "STRIPE_SOURCE", real[3]}, []string{"REFERRALS_SOURCE"}, "STRIPE_SOURCE is"},
		{"stripe fixture", []string{"REFERRALS_SOURCE", real[1], "STRIPE_SOURCE", "fixture"}, []string{"STRIPE_SOURCE"}, "REFERRALS_SOURCE and"},
		{"both unset", []string{"REFERRALS_SOURCE", "", "STRIPE_SOURCE", ""}, []string{"REFERRALS_SOURCE and STRIPE_SOURCE"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runMainEnv(t, d.env("2026-04-16T00:00:00Z", tc.env...), "run")
			if code != exitFailed {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range append(tc.want, "fixture data over a snapshot made from real sources", "nothing was written") {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if tc.not != "" && strings.Contains(stderr, tc.not) {
				t.Errorf("stderr blames %q:\n%s", tc.not, stderr)
			}
			after := inpPrivateState(t, d)
			for k := range after {
				if _, ok := before[k]; !ok {
					t.Errorf("the refused run wrote %s", k)
				}
			}
			for k, v := range before {
				if !bytes.Equal(after[k], v) {
					t.Errorf("the refused run changed %s", k)
				}
			}
		})
	}

	// Fixtures over fixtures: published, recorded, warned about.
	f := newDirs(t)
	inpMustRun(t, f.env(fixtureAsOf))
	code, _, stderr := runMainEnv(t, f.env("2026-04-16T00:00:00Z", "REFERRALS_SOURCE", "fixture", "STRIPE_SOURCE", "fixture"), "run")
	if code != exitOK {
		t.Fatalf("fixture over fixture: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "embedded fixture data") || !strings.Contains(stderr, `"level":"warn"`) {
		t.Errorf("no warning about the fixtures:\n%s", stderr)
	}
	latest := filepath.Join(inpLatest(t, f.Public), "manifest.json")
	inpReadJSON(t, latest, &m)
	if m.Inputs.Sources["referrals"] != "fixture" || m.Inputs.Sources["stripe"] != "fixture" {
		t.Fatalf("manifest sources %v, want fixture, fixture", m.Inputs.Sources)
	}

	// A manifest that does not say its sources (written before they were
	// recorded): the same inputs digest is the same fixture data; another
	// digest was real data.
	b, err := os.ReadFile(latest)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	inputs := doc["inputs"].(map[string]any)
	delete(inputs, "sources")
	write := func() {
		t.Helper()
		nb, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(latest, nb, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if code, _, stderr := runMainEnv(t, f.env("2026-04-16T00:00:00Z"), "run"); code != exitOK {
		t.Fatalf("fixture over an old fixture manifest: exit %d\n%s", code, stderr)
	}
	latest = filepath.Join(inpLatest(t, f.Public), "manifest.json")
	if err := json.Unmarshal(must1(os.ReadFile(latest)), &doc); err != nil {
		t.Fatal(err)
	}
	inputs = doc["inputs"].(map[string]any)
	delete(inputs, "sources")
	inputs["sha256"] = strings.Repeat("0", 64)
	write()
	if code, _, stderr := runMainEnv(t, f.env("2026-04-17T00:00:00Z"), "run"); code != exitFailed || !strings.Contains(stderr, "REFERRALS_SOURCE and STRIPE_SOURCE") {
		t.Fatalf("fixture over an old manifest of other data: exit %d\n%s", code, stderr)
	}
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// manifestSources is the manifest's record of the kind of each source.
var manifestSources = regexp.MustCompile(`,"sources":\{[^{}]*\}`)

// withoutSources is tree with the sources record cut out of every
// manifest.json, for comparing runs of the same data read from sources of
// different kinds (the only bytes that differ by design).
func withoutSources(tree map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(tree))
	for k, v := range tree {
		if path.Base(k) == "manifest.json" {
			v = manifestSources.ReplaceAll(v, nil)
		}
		out[k] = v
	}
	return out
}
