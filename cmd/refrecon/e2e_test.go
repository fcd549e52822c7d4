package main

// End-to-end tests of the whole job: runs driven in process through runOnce
// (with a config from a map) or runMain (with the process environment), on
// the embedded fixtures, with temporary PUBLIC_DIR, PRIVATE_DIR and SQLite
// warehouse. Golden files are under testdata/golden/<case>/; regenerate them
// with
//
//	go test ./cmd/refrecon/ -run TestE2EGolden -update
//
// and review the diff.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"
	stripeexport "github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixtureAsOf is the instant fixtures/README.md's designed outcomes are
// computed at.
const fixtureAsOf = "2026-04-15T00:00:00Z"

// e2eDirs are one run's output locations, all under a fresh temp dir.
type e2eDirs struct {
	Root, Public, Private, Warehouse string
}

func newDirs(t *testing.T) e2eDirs {
	t.Helper()
	root := t.TempDir()
	return e2eDirs{
		Root:      root,
		Public:    filepath.Join(root, "public"),
		Private:   filepath.Join(root, "private"),
		Warehouse: filepath.Join(root, "warehouse.sqlite"),
	}
}

// env is the configuration of a run into d at asOf; extra entries are added
// (an empty value deletes a key).
func (d e2eDirs) env(asOf string, extra ...string) map[string]string {
	m := map[string]string{
		"AS_OF":       asOf,
		"PUBLIC_DIR":  d.Public,
		"PRIVATE_DIR": d.Private,
		"WAREHOUSE":   "sqlite:" + d.Warehouse,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(m, extra[i])
			continue
		}
		m[extra[i]] = extra[i+1]
	}
	return m
}

// runEnv runs the job once in process with the configuration env. Log
// lines go to the test log only when the test fails.
func runEnv(t *testing.T, env map[string]string) (*reconcile.Report, error) {
	t.Helper()
	cfg, err := loadConfig(t.Context(), envconfig.MapLookuper(env))
	if err != nil {
		return nil, err
	}
	var logs bytes.Buffer
	rep, err := runOnce(t.Context(), cfg, zerolog.New(zerolog.SyncWriter(&logs)).Level(zerolog.InfoLevel))
	if err == nil {
		validatePublic(t, env)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the run with %v:\n%s", env, logs.String())
		}
	})
	return rep, err
}

// mustRun runs the job and fails the test when the run fails.
func mustRun(t *testing.T, env map[string]string) *reconcile.Report {
	t.Helper()
	rep, err := runEnv(t, env)
	if err != nil {
		t.Fatalf("run with %v: %v", env, err)
	}
	return rep
}

// readTree returns every regular file under dir by slash-separated relative
// path, except the publication lock file (none when dir does not exist).
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() == localdir.LockFile {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read tree %s: %v", dir, err)
	}
	return out
}

// diffTrees describes how got differs from want ("" when identical).
func diffTrees(want, got map[string][]byte) string {
	var b strings.Builder
	for _, p := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[p]
		switch {
		case !ok:
			fmt.Fprintf(&b, "missing %s\n", p)
		case !bytes.Equal(g, want[p]):
			fmt.Fprintf(&b, "differs %s: %s\n", p, firstDifference(want[p], g))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[p]; !ok {
			fmt.Fprintf(&b, "unexpected %s\n", p)
		}
	}
	return b.String()
}

func firstDifference(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	clip := func(b []byte) string {
		lo, hi := max(0, i-60), min(len(b), i+60)
		return fmt.Sprintf("%q", b[lo:hi])
	}
	return fmt.Sprintf("at byte %d: want …%s…, got …%s…", i, clip(want), clip(got))
}

// repoFile is the absolute path of a file of the repository.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func customCyclesURL(t *testing.T) string {
	return "file://" + repoFile(t, "fixtures/cycles-custom.json")
}

// goldenCase is one pinned run.
type goldenCase struct {
	name  string
	asOf  string
	extra func(t *testing.T) []string // more configuration
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "default", asOf: fixtureAsOf, extra: func(*testing.T) []string { return nil }},
		// At fixtureAsOf the custom set has a Closed, an AwardsReview, an
		// Active and a Scheduled cycle: every status but Exhausted (see
		// TestE2ECustomExhausted), and README's designed outcomes apply.
		{name: "custom", asOf: fixtureAsOf, extra: func(t *testing.T) []string {
			return []string{"CUSTOM_REFERRAL_PROGRAM_CYCLES", customCyclesURL(t)}
		}},
	}
}

// goldenTree is what a case pins: every public file (public/...) and every
// CSV report (private/...).
func goldenTree(t *testing.T, d e2eDirs) map[string][]byte {
	t.Helper()
	return outputTree(t, d, func(p string) bool { return strings.HasSuffix(p, ".csv") })
}

// outputTree reads every public file (as public/...) and the private files
// keep keeps (as private/...).
func outputTree(t *testing.T, d e2eDirs, keep func(private string) bool) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for p, b := range readTree(t, d.Public) {
		out["public/"+p] = b
	}
	for p, b := range readTree(t, d.Private) {
		if keep(p) {
			out["private/"+p] = b
		}
	}
	return out
}

func TestE2EGolden(t *testing.T) {
	for _, gc := range goldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			mustRun(t, d.env(gc.asOf, gc.extra(t)...))
			got := goldenTree(t, d)
			dir := filepath.Join("testdata", "golden", gc.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				for p, b := range got {
					path := filepath.Join(dir, filepath.FromSlash(p))
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			want := readTree(t, dir)
			if len(want) == 0 {
				t.Fatalf("no golden files in %s; run with -update", dir)
			}
			if diff := diffTrees(want, got); diff != "" {
				t.Errorf("output differs from %s (rerun with -update if intended):\n%s", dir, diff)
			}
		})
	}
}

// Same inputs, same asOf: byte-identical public trees and the same
// snapshot id, wherever and however often the run publishes.
func TestE2EDeterminism(t *testing.T) {
	t.Parallel()
	a, b := newDirs(t), newDirs(t)
	repA := mustRun(t, a.env(fixtureAsOf))
	repB := mustRun(t, b.env(fixtureAsOf))
	if repA.SnapshotID != repB.SnapshotID || repA.SnapshotID == "" {
		t.Errorf("snapshot ids %q and %q, want one non-empty id", repA.SnapshotID, repB.SnapshotID)
	}
	if !strings.HasPrefix(repA.SnapshotID, "20260415T000000Z-") || len(repA.SnapshotID) != len("20260415T000000Z-")+12 {
		t.Errorf("snapshot id %q does not have the form YYYYMMDDTHHMMSSZ-<12 hex>", repA.SnapshotID)
	}
	treeA := readTree(t, a.Public)
	if diff := diffTrees(treeA, readTree(t, b.Public)); diff != "" {
		t.Errorf("two runs into two directories differ:\n%s", diff)
	}
	privA, privB := readTree(t, a.Private), readTree(t, b.Private)
	if diff := diffTrees(privA, privB); diff != "" {
		t.Errorf("two runs' private reports differ:\n%s", diff)
	}

	// Again into the same PUBLIC_DIR: still one snapshot, nothing changed.
	repC := mustRun(t, a.env(fixtureAsOf))
	if repC.SnapshotID != repA.SnapshotID {
		t.Errorf("re-run snapshot id %q, want %q", repC.SnapshotID, repA.SnapshotID)
	}
	entries, err := os.ReadDir(filepath.Join(a.Public, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != repA.SnapshotID {
		t.Errorf("snapshots/ holds %q after a re-run, want only %s", names, repA.SnapshotID)
	}
	if diff := diffTrees(treeA, readTree(t, a.Public)); diff != "" {
		t.Errorf("a re-run changed the public tree:\n%s", diff)
	}
}

// emailLike matches anything that looks like an email address.
var emailLike = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)

// fixtureEmails is every email-like value in the fixture inputs (users,
// referrals, Stripe customers), raw and trimmed-lowercased.
func fixtureEmails(t *testing.T) []string {
	t.Helper()
	refs, err := sqlitesrc.New(repoFile(t, "fixtures/referrals.sqlite")).ReadReferrals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st, err := stripeexport.Read(t.Context(), bytes.NewReader(fixtures.StripeNDJSON))
	if err != nil {
		t.Fatal(err)
	}
	var raw []string
	for _, u := range refs.Users {
		raw = append(raw, u.Email)
	}
	for _, r := range refs.Rows {
		raw = append(raw, r.Email)
	}
	for _, c := range st.Customers {
		raw = append(raw, c.Email)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range raw {
		for _, v := range []string{e, strings.TrimSpace(e), strings.ToLower(strings.TrimSpace(e))} {
			if strings.Contains(v, "@") && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	if len(out) < 200 {
		t.Fatalf("only %d emails found in the fixtures", len(out))
	}
	return out
}

// No public file contains an email address, in any form.
func TestE2EPublicFilesHaveNoEmail(t *testing.T) {
	t.Parallel()
	emails := append(fixtureEmails(t), "jane.doe@example.com", "ops@example.org")
	// A cycle set whose free texts (display names, admin action reasons)
	// hold email addresses: they are public fields.
	set, err := os.ReadFile(repoFile(t, "fixtures/cycles-custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	set = bytes.ReplaceAll(set, []byte(`"reason": "`), []byte(`"reason": "Reported by jane.doe@example.com: `))
	set = bytes.ReplaceAll(set, []byte(`"displayName": "`), []byte(`"displayName": "ops@example.org `))
	if !bytes.Contains(set, []byte("jane.doe@example.com")) {
		t.Fatal("no admin action reason in the custom cycle set")
	}
	leaky := filepath.Join(t.TempDir(), "cycles-with-emails.json")
	if err := os.WriteFile(leaky, set, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := append(goldenCases(), goldenCase{name: "emails in cycle texts", asOf: fixtureAsOf, extra: func(*testing.T) []string {
		return []string{"CUSTOM_REFERRAL_PROGRAM_CYCLES", "file://" + leaky}
	}})
	for _, gc := range cases {
		t.Run(gc.name, func(t *testing.T) {
			d := newDirs(t)
			mustRun(t, d.env(gc.asOf, gc.extra(t)...))
			tree := readTree(t, d.Public)
			if len(tree) < 10 {
				t.Fatalf("only %d public files", len(tree))
			}
			for p, b := range tree {
				if m := emailLike.Find(b); m != nil {
					t.Errorf("%s contains an email address: %q", p, m)
				}
				for _, e := range emails {
					if bytes.Contains(b, []byte(e)) {
						t.Errorf("%s contains the fixture email %q", p, e)
					}
				}
			}
			// The check itself must be able to see emails: the private
			// reports have them.
			priv := readTree(t, d.Private)
			found := false
			for _, b := range priv {
				found = found || emailLike.Match(b)
			}
			if !found {
				t.Error("no email found in the private reports either: is the check blind?")
			}
		})
	}
}

// The custom set at the end of March: its rev-share-cap cycle is active
// with its pool used up, so it shows as Exhausted; April's cycle is
// Scheduled.
func TestE2ECustomExhausted(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	rep := mustRun(t, d.env("2026-03-31T23:59:59Z", "CUSTOM_REFERRAL_PROGRAM_CYCLES", customCyclesURL(t)))
	want := map[string]pipeline.Status{
		"jan-2026-revenue": pipeline.Closed, "q1-2026-revshare": pipeline.Exhausted,
		"apr-2026-sprint": pipeline.Scheduled, "summer-2026-eur": pipeline.Scheduled,
	}
	got := map[string]pipeline.Status{}
	for _, c := range rep.Result.Cycles {
		got[c.Cycle.ID] = c.Status
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	cycles := readTree(t, d.Public)["snapshots/"+rep.SnapshotID+"/cycles.json"]
	if !bytes.Contains(cycles, []byte(`"status":"Exhausted"`)) && !bytes.Contains(cycles, []byte(`"status": "Exhausted"`)) {
		t.Errorf("cycles.json does not show an Exhausted cycle:\n%s", cycles)
	}
}

// configVars is every variable config reads.
func configVars() []string {
	var out []string
	rt := reflect.TypeOf(config{})
	for i := range rt.NumField() {
		tag := rt.Field(i).Tag.Get("env")
		if name, _, _ := strings.Cut(tag, ","); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// setEnv makes env the process's whole refrecon configuration for the test.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range configVars() {
		v, ok := env[k]
		t.Setenv(k, v)
		if !ok {
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		if !slices.Contains(configVars(), k) {
			t.Fatalf("test sets %s, which config does not read", k)
		}
		t.Setenv(k, v)
	}
}

// runMainEnv runs "refrecon args..." under env and returns its exit status
// and output.
func runMainEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	setEnv(t, env)
	var out, errb bytes.Buffer
	code = runMain(t.Context(), args, &out, &errb)
	if code == exitOK && len(args) > 0 && args[0] == "run" {
		validatePublic(t, env)
	}
	return code, out.String(), errb.String()
}

func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after the run (err %v)", p, err)
		}
	}
}

// Every configuration error exits 2 before anything is read or written.
func TestE2EConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  string // in stderr
	}{
		{"bad AS_OF", []string{"AS_OF", "2026-04-15"}, "AS_OF"},
		{"AS_OF not a time", []string{"AS_OF", "yesterday"}, "AS_OF"},
		{"zero records per page", []string{"RECORDS_PER_PAGE", "0"}, "RECORDS_PER_PAGE"},
		{"101 records per page", []string{"RECORDS_PER_PAGE", "101"}, "RECORDS_PER_PAGE"},
		{"records per page not a number", []string{"RECORDS_PER_PAGE", "many"}, "RECORDS_PER_PAGE"},
		{"unknown referrals source", []string{"REFERRALS_SOURCE", "postgres:db"}, "REFERRALS_SOURCE"},
		{"referrals source without path", []string{"REFERRALS_SOURCE", "sqlite:"}, "REFERRALS_SOURCE"},
		{"d1 without credentials", []string{"REFERRALS_SOURCE", "d1"}, "D1_API_TOKEN"},
		{"unknown stripe source", []string{"STRIPE_SOURCE", "csv:x"}, "STRIPE_SOURCE"},
		{"stripe api without key", []string{"STRIPE_SOURCE", "api"}, "STRIPE_SECRET_KEY"},
		{"unknown warehouse", []string{"WAREHOUSE", "postgres:x"}, "WAREHOUSE"},
		{"bigquery without dataset", []string{"WAREHOUSE", "bigquery:proj"}, "WAREHOUSE"},
		{"bigquery bad project", []string{"WAREHOUSE", "bigquery:Bad_Project!.ds"}, "invalid project ID"},
		{"bigquery bad endpoint", []string{"WAREHOUSE", "bigquery:proj.ds", "BIGQUERY_ENDPOINT", "ftp://bq.example"}, "BIGQUERY_ENDPOINT"},
		{"bad log level", []string{"LOG_LEVEL", "loud"}, "LOG_LEVEL"},
		{"bad log format", []string{"LOG_FORMAT", "xml"}, "LOG_FORMAT"},
		{"cycle set URL relative", []string{"CUSTOM_REFERRAL_PROGRAM_CYCLES", "cycles.json"}, "CUSTOM_REFERRAL_PROGRAM_CYCLES"},
		{"cycle set URL not a URL", []string{"CUSTOM_REFERRAL_PROGRAM_CYCLES", "http://[::1"}, "CUSTOM_REFERRAL_PROGRAM_CYCLES"},
		{"cycle set file missing", []string{"CUSTOM_REFERRAL_PROGRAM_CYCLES", "file:///nonexistent/refrecon/cycles.json"}, "CUSTOM_REFERRAL_PROGRAM_CYCLES"},
		{"cycle set invalid", []string{"CUSTOM_REFERRAL_PROGRAM_CYCLES", "file://" + filepath.Join(mustAbs(t, "testdata"), "not-a-cycle-set.json")}, "CUSTOM_REFERRAL_PROGRAM_CYCLES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			code, stdout, stderr := runMainEnv(t, d.env(fixtureAsOf, tc.extra...), "run")
			if code != exitConfig {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitConfig, stdout, stderr)
			}
			if !strings.Contains(stderr, "configuration error") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not report a configuration error naming %s:\n%s", tc.want, stderr)
			}
			mustNotExist(t, d.Public, d.Private, d.Warehouse)
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A referrals file without a required column fails the run (exit 1) with a
// message naming the column; nothing is published.
func TestE2EMissingRequiredColumn(t *testing.T) {
	for _, tc := range []struct{ table, column, create string }{
		{"referrals", "referred_at", `CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT, selected_plan TEXT, rewarded BOOLEAN)`},
		{"users", "refcode", `CREATE TABLE users (email TEXT PRIMARY KEY)`},
	} {
		t.Run(tc.table+"."+tc.column, func(t *testing.T) {
			d := newDirs(t)
			src := filepath.Join(d.Root, "referrals.sqlite")
			ddl := []string{tc.create}
			if tc.table != "users" {
				ddl = append(ddl, `CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT UNIQUE)`,
					`INSERT INTO users VALUES ('a@example.com', 'A')`)
			} else {
				ddl = append(ddl, `CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT, referred_at DATETIME, selected_plan TEXT, rewarded BOOLEAN)`)
			}
			execSQLite(t, src, ddl...)
			code, stdout, stderr := runMainEnv(t, d.env(fixtureAsOf, "REFERRALS_SOURCE", "sqlite:"+src, "LOG_LEVEL", "error"), "run")
			if code != exitFailed {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.column) {
				t.Errorf("stderr does not name the column %s:\n%s", tc.column, stderr)
			}
			mustNotExist(t, filepath.Join(d.Public, "latest.json"), filepath.Join(d.Public, "snapshots"), d.Private)
		})
	}
}

// A failure before the publish (here: PRIVATE_DIR is a file) leaves the
// previous snapshot and latest.json byte-identical.
func TestE2EFailureKeepsPreviousSnapshot(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	first := mustRun(t, d.env(fixtureAsOf))
	before := readTree(t, d.Public)

	blocked := filepath.Join(d.Root, "private-is-a-file")
	if err := os.WriteFile(blocked, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := runEnv(t, d.env("2026-04-16T00:00:00Z", "PRIVATE_DIR", blocked))
	if err == nil {
		t.Fatal("the run succeeded with PRIVATE_DIR a file")
	}
	var cfgErr *configError
	if errors.As(err, &cfgErr) {
		t.Errorf("got a configuration error, want a run failure: %v", err)
	}
	if rep == nil || rep.SnapshotID == "" || rep.SnapshotID == first.SnapshotID {
		t.Errorf("the failed run's report %+v: want the new snapshot id it did not publish", rep)
	}
	if diff := diffTrees(before, readTree(t, d.Public)); diff != "" {
		t.Errorf("a failed run changed the public tree:\n%s", diff)
	}
}

// --help on every registered command exits 0 and prints its usage.
func TestE2EHelpOnEveryCommand(t *testing.T) {
	if len(commands) < 4 {
		t.Fatalf("only %d commands registered", len(commands))
	}
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(name+" "+flag, func(t *testing.T) {
				d := newDirs(t)
				args := append(strings.Fields(name), flag)
				code, stdout, stderr := runMainEnv(t, d.env(""), args...)
				if code != exitOK {
					t.Errorf("exit %d, want 0\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
				out := stdout + stderr
				if !strings.Contains(out, "Usage") || !strings.Contains(out, name) {
					t.Errorf("output does not show the usage of %q:\n%s", name, out)
				}
				mustNotExist(t, d.Public, d.Private, d.Warehouse)
			})
		}
	}
	code, stdout, _ := runMainEnv(t, nil, "--help")
	if code != exitOK || !strings.Contains(stdout, "Usage") {
		t.Errorf("refrecon --help: exit %d, stdout %q", code, stdout)
	}
}

// Small pages split the same leaderboard: the entries of every page, in
// order, are the one-page leaderboard's, and each page says where it is.
func TestE2EPagination(t *testing.T) {
	t.Parallel()
	one, paged := newDirs(t), newDirs(t)
	rep := mustRun(t, one.env(fixtureAsOf))
	mustRun(t, paged.env(fixtureAsOf, "RECORDS_PER_PAGE", "5"))
	treeOne, treePaged := readTree(t, one.Public), readTree(t, paged.Public)
	for _, c := range rep.Result.Cycles {
		prefix := "snapshots/" + rep.SnapshotID + "/cycles/" + c.Cycle.ID + "/leaderboard/"
		var whole struct{ Entries []json.RawMessage }
		if err := json.Unmarshal(treeOne[prefix+"1.json"], &whole); err != nil {
			t.Fatal(err)
		}
		total := len(c.Leaderboard)
		pages := max(1, (total+4)/5)
		var joined []json.RawMessage
		for page := 1; page <= pages+1; page++ {
			b, ok := treePaged[fmt.Sprintf("%s%d.json", prefix, page)]
			if page == pages+1 {
				if ok {
					t.Errorf("cycle %s: page %d published, want %d pages", c.Cycle.ID, page, pages)
				}
				break
			}
			if !ok {
				t.Fatalf("cycle %s: page %d missing", c.Cycle.ID, page)
			}
			var p struct {
				Entries     []json.RawMessage
				PageContext struct {
					Page, RecordsPerPage, TotalRecords, TotalPages int
					HasNext, HasPrev                               bool
				}
			}
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			pc := p.PageContext
			if pc.Page != page || pc.RecordsPerPage != 5 || pc.TotalRecords != total || pc.TotalPages != pages ||
				pc.HasNext != (page < pages) || pc.HasPrev != (page > 1) {
				t.Errorf("cycle %s page %d: pageContext %+v", c.Cycle.ID, page, pc)
			}
			joined = append(joined, p.Entries...)
		}
		if len(joined) != len(whole.Entries) {
			t.Errorf("cycle %s: %d entries over the pages, %d on one page", c.Cycle.ID, len(joined), len(whole.Entries))
			continue
		}
		for i := range joined {
			if !bytes.Equal(joined[i], whole.Entries[i]) {
				t.Errorf("cycle %s entry %d: paged %s, one page %s", c.Cycle.ID, i, joined[i], whole.Entries[i])
			}
		}
	}
}

// KEEP_SNAPSHOTS bounds the snapshots kept; the served one always stays.
func TestE2ERetention(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	var last *reconcile.Report
	for _, asOf := range []string{"2026-04-13T00:00:00Z", "2026-04-14T00:00:00Z", "2026-04-15T00:00:00Z"} {
		last = mustRun(t, d.env(asOf, "KEEP_SNAPSHOTS", "2"))
	}
	entries, err := os.ReadDir(filepath.Join(d.Public, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !slices.Contains(names, last.SnapshotID) || !strings.HasPrefix(names[0], "20260414T") {
		t.Errorf("snapshots kept: %q, want the 04-14 one and %s", names, last.SnapshotID)
	}
	var latest struct{ SnapshotID, Path string }
	if err := json.Unmarshal(readTree(t, d.Public)["latest.json"], &latest); err != nil {
		t.Fatal(err)
	}
	if latest.SnapshotID != last.SnapshotID || latest.Path != "snapshots/"+last.SnapshotID+"/" {
		t.Errorf("latest.json %+v, want %s", latest, last.SnapshotID)
	}
}

// While another process holds PUBLIC_DIR, a run fails (without
// --wait-lock) and changes nothing there.
func TestE2ELockedPublicDir(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	mustRun(t, d.env(fixtureAsOf))
	before := readTree(t, d.Public)
	unlock, err := localdir.Open(d.Public).Lock(t.Context(), public.LockRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = runEnv(t, d.env("2026-04-16T00:00:00Z"))
	if uerr := unlock(); uerr != nil {
		t.Fatal(uerr)
	}
	if !errors.Is(err, public.ErrLocked) {
		t.Errorf("run while PUBLIC_DIR is locked: %v, want ErrLocked", err)
	}
	if diff := diffTrees(before, readTree(t, d.Public)); diff != "" {
		t.Errorf("a locked-out run changed the public tree:\n%s", diff)
	}
}
