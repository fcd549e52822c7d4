package main

// Reliability tests of whole runs (issue "Reliability and security"):
// faults injected into the fake Stripe, D1 and BigQuery services, secrets
// that must never be printed or written, shuffled inputs that must give the
// same bytes, and a generated dataset whose public files must hold no
// email. Helpers here are prefixed rel* so that they never collide with the
// other test files of the package.
//
// The fault tests set testRetryOverride (1 ms backoffs, 1 s per attempt),
// so they are sequential: top-level parallel tests only start after them.

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/fixtures/synth"
	"github.com/refrecon/refrecon/sinks/bigquery/bqfake"
	"github.com/refrecon/refrecon/sinks/sqlite/sqlitetest"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
	"github.com/refrecon/refrecon/sources/referrals/d1/d1fake"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
)

const (
	relAsOf      = "2026-04-15T00:00:00Z"
	relStripeKey = "sk_test_SECRETcanary123"
	relD1Token   = "d1canarytoken456"
	relBQProject = "refrecon-rel"
	relBQDataset = "rel_ds"
)

var relDay = civil.Date{Year: 2026, Month: time.April, Day: 15}

// relEnv is the configuration of a run into d at relAsOf that keeps every
// snapshot; kv adds pairs (or replaces them: AS_OF, KEEP_SNAPSHOTS).
func relEnv(d e2eDirs, kv ...string) map[string]string {
	return d.env(relAsOf, append([]string{"KEEP_SNAPSHOTS", "0"}, kv...)...)
}

// relFastRetries makes every remote client retry after 1 ms, with 1 s per
// attempt, for the rest of the test.
func relFastRetries(t *testing.T) {
	t.Helper()
	testRetryOverride = &retryTuning{Backoff: time.Millisecond, AttemptTimeout: time.Second}
	t.Cleanup(func() { testRetryOverride = nil })
}

func relSQLiteRows(t *testing.T, path string) warehousetest.Day {
	t.Helper()
	s, err := sqlitetest.ReadDay(t.Context(), path, relDay)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func relBigQueryRows(t *testing.T, fake *bqfake.Server) warehousetest.Day {
	t.Helper()
	s, err := fake.ReadDay(t.Context(), relBQProject, relBQDataset, relDay)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// relBaseline is a clean run on the embedded fixtures.
type relBaseline struct {
	snapshotID string
	public     map[string][]byte
	rows       warehousetest.Day
}

func relClean(t *testing.T) relBaseline {
	t.Helper()
	d := newDirs(t)
	rep, err := runEnv(t, relEnv(d))
	if err != nil {
		t.Fatalf("clean run: %v", err)
	}
	return relBaseline{snapshotID: rep.SnapshotID, public: readTree(t, d.Public), rows: relSQLiteRows(t, d.Warehouse)}
}

// relService is one remote service with its fault kinds.
type relService struct {
	name string
	// start starts a fresh fake with the fault injected (nil: none) and
	// returns the configuration that points a run at it, and for BigQuery
	// the fake to read rows back from.
	start func(t *testing.T, fault string, persistent bool) ([]string, *bqfake.Server)
	// wantErr are strings the error of a persistent fault must contain:
	// the service and the step.
	wantErr []string
	faults  []string
}

func relServices() []relService {
	return []relService{
		{
			name: "stripe",
			start: func(t *testing.T, fault string, persistent bool) ([]string, *bqfake.Server) {
				fake := stripefake.New(t, relStripeKey, fixtures.StripeNDJSON)
				f := stripefake.Fault{Path: "/v1/invoices", After: 1, Count: 1} // the second page
				switch fault {
				case "429 storm":
					f.Status, f.Count = http.StatusTooManyRequests, 5
				case "5xx":
					f.Status = http.StatusServiceUnavailable
				case "reset":
					f.Reset = true
				case "truncated":
					f.Truncate = true
				case "timeout":
					f.Delay = time.Hour // the attempt times out after 1 s
				}
				if persistent {
					f.Count = -1
				}
				if fault != "" {
					fake.Inject(f)
				}
				return []string{"STRIPE_SOURCE", "api", "STRIPE_SECRET_KEY", relStripeKey, "STRIPE_API_BASE", fake.URL,
					"STRIPE_RATE_LIMIT", "10000"}, nil
			},
			wantErr: []string{"stripe api", "listing invoices, page 2"},
			faults:  []string{"429 storm", "5xx", "reset", "truncated", "timeout"},
		},
		{
			name: "d1",
			start: func(t *testing.T, fault string, persistent bool) ([]string, *bqfake.Server) {
				db := filepath.Join(t.TempDir(), "d1.sqlite")
				if err := os.WriteFile(db, fixtures.ReferralsSQLite, 0o600); err != nil {
					t.Fatal(err)
				}
				// Request 3 is the first page of users.
				var f d1fake.Fault
				var opts []d1fake.Option
				switch fault {
				case "429 storm":
					for n := 3; n < 8; n++ {
						opts = append(opts, d1fake.WithFault(n, d1fake.TooManyRequests("")))
					}
				case "5xx":
					f = d1fake.InternalError()
				case "reset":
					f = d1fake.DropConnection()
				case "truncated":
					f = d1fake.TruncatedBody()
				case "repeated page":
					f = d1fake.RepeatPreviousPage()
				case "timeout":
					opts = append(opts, d1fake.OnRequest(func(n int, _ string, _ *sql.DB) {
						if n == 3 || persistent && n > 3 {
							time.Sleep(1500 * time.Millisecond) // the attempt times out after 1 s
						}
					}))
				}
				if fault != "" && fault != "429 storm" && fault != "timeout" {
					if persistent {
						opts = append(opts, d1fake.WithFaultFrom(3, f))
					} else {
						opts = append(opts, d1fake.WithFault(3, f))
					}
				}
				srv := d1fake.NewServer(t, db, append(opts, d1fake.WithToken(relD1Token))...)
				return []string{"REFERRALS_SOURCE", "d1", "D1_ACCOUNT_ID", srv.AccountID, "D1_DATABASE_ID", srv.DatabaseID,
					"D1_API_TOKEN", relD1Token, "D1_API_BASE", srv.URL}, nil
			},
			wantErr: []string{"referrals source d1", "read table users, page 1"},
			faults:  []string{"429 storm", "5xx", "reset", "truncated", "timeout"},
		},
		{
			name: "bigquery",
			start: func(t *testing.T, fault string, persistent bool) ([]string, *bqfake.Server) {
				fake := bqfake.New()
				t.Cleanup(fake.Close)
				n := 1
				if persistent {
					n = 1000
				}
				switch fault {
				case "429 storm":
					fake.FailNextUploadsWith(max(n, 3), bqfake.UploadFault{Status: http.StatusTooManyRequests})
				case "5xx":
					fake.FailNextUploadsWith(n, bqfake.UploadFault{Status: http.StatusServiceUnavailable})
				case "reset":
					fake.FailNextUploadsWith(n, bqfake.UploadFault{Reset: true})
				case "truncated":
					fake.FailNextUploadsWith(n, bqfake.UploadFault{Truncate: true})
				}
				return []string{"WAREHOUSE", "bigquery:" + relBQProject + "." + relBQDataset, "BIGQUERY_ENDPOINT", fake.URL()}, fake
			},
			wantErr: []string{"write warehouse", "bigquery", "load ", "giving up after"},
			faults:  []string{"429 storm", "5xx", "reset", "truncated"},
		},
	}
}

// A recoverable fault of any kind, on any service, is retried within the
// budget: the run succeeds with exactly the clean run's snapshot.
func TestReliabilityRecoverableFaults(t *testing.T) {
	relFastRetries(t)
	base := relClean(t)
	for _, svc := range relServices() {
		for _, fault := range svc.faults {
			t.Run(svc.name+"/"+fault, func(t *testing.T) {
				extra, bq := svc.start(t, fault, false)
				d := newDirs(t)
				rep, err := runEnv(t, relEnv(d, extra...))
				if err != nil {
					t.Fatalf("run with one %s fault: %v", fault, err)
				}
				if rep.SnapshotID != base.snapshotID {
					t.Errorf("snapshot %s, want the clean run's %s", rep.SnapshotID, base.snapshotID)
				}
				if diff := diffTrees(withoutSources(base.public), withoutSources(readTree(t, d.Public))); diff != "" {
					t.Errorf("public files differ from the clean run's:\n%s", diff)
				}
				var rows warehousetest.Day
				if bq != nil {
					rows = relBigQueryRows(t, bq)
				} else {
					rows = relSQLiteRows(t, d.Warehouse)
				}
				if diff := warehousetest.Diff(base.rows, rows); diff != "" {
					t.Errorf("warehouse rows differ from the clean run's:\n%s", diff)
				}
			})
		}
	}
}

// A fault that does not go away fails the run: exit 1, a message naming
// the service and the step, and the previous snapshot still served.
func TestReliabilityPersistentFaults(t *testing.T) {
	relFastRetries(t)
	for _, svc := range relServices() {
		faults := []string{"5xx", "reset", "truncated"}
		if svc.name == "d1" {
			faults = append(faults, "repeated page")
		}
		for _, fault := range faults {
			t.Run(svc.name+"/"+fault, func(t *testing.T) {
				d := newDirs(t)
				if _, err := runEnv(t, relEnv(d, "AS_OF", "2026-04-14T00:00:00Z")); err != nil {
					t.Fatalf("previous run: %v", err)
				}
				before := readTree(t, d.Public)
				extra, _ := svc.start(t, fault, true)
				code, stdout, stderr := runMainEnv(t, relEnv(d, append(extra, "LOG_FORMAT", "console")...), "run")
				if code != exitFailed {
					t.Fatalf("exit %d, want %d\nstderr:\n%s", code, exitFailed, stderr)
				}
				// The error is logged once, in the run's last record, and not
				// printed again.
				last := ansiColour.ReplaceAllString(lastLine(stderr), "")
				if !strings.Contains(last, "ERR run finished") {
					t.Errorf("the last line of stderr is not the failed run's record: %q", last)
				}
				if strings.Contains(stderr, "refrecon run: ") {
					t.Errorf("the run's error was printed beside its log record:\n%s", stderr)
				}
				for _, want := range svc.wantErr {
					if !strings.Contains(last, want) {
						t.Errorf("the error does not say %q:\n%s", want, last)
					}
				}
				if diff := diffTrees(before, readTree(t, d.Public)); diff != "" {
					t.Errorf("the failed run changed the public files:\n%s", diff)
				}
				if strings.Contains(stdout+stderr, relStripeKey) || strings.Contains(stdout+stderr, relD1Token) {
					t.Error("a secret was printed")
				}
			})
		}
	}
}

// ansiColour matches the colour codes of zerolog's console format.
var ansiColour = regexp.MustCompile("\x1b\\[[0-9;]*m")

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// Canary secrets, passed the way production passes them, never show up in
// logs (at debug level), errors, the manifest or any output file, on
// successful and on failing runs.
func TestReliabilitySecretsNeverLeak(t *testing.T) {
	relFastRetries(t)
	const user, pass, query = "canaryuser", "canarypass789", "canaryquery321"
	canaries := []string{relStripeKey, relD1Token, pass, query, "SECRETcanary", "d1canary"}

	cycles, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "cycles-custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	cycleSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cycles.json" {
			http.Error(w, "no such file (token "+r.URL.RawQuery+")", http.StatusNotFound)
			return
		}
		w.Write(cycles) //nolint:errcheck
	}))
	t.Cleanup(cycleSrv.Close)
	cycleURL := func(path string) string {
		return strings.Replace(cycleSrv.URL, "http://", "http://"+user+":"+pass+"@", 1) + path + "?token=" + query
	}

	services := func(t *testing.T, stripeFault *stripefake.Fault, d1Opts ...d1fake.Option) []string {
		fake := stripefake.New(t, relStripeKey, fixtures.StripeNDJSON)
		if stripeFault != nil {
			fake.Inject(*stripeFault)
		}
		db := filepath.Join(t.TempDir(), "d1.sqlite")
		if err := os.WriteFile(db, fixtures.ReferralsSQLite, 0o600); err != nil {
			t.Fatal(err)
		}
		srv := d1fake.NewServer(t, db, append(d1Opts, d1fake.WithToken(relD1Token))...)
		return []string{"STRIPE_SOURCE", "api", "STRIPE_SECRET_KEY", relStripeKey, "STRIPE_API_BASE", fake.URL, "STRIPE_RATE_LIMIT", "10000",
			"REFERRALS_SOURCE", "d1", "D1_ACCOUNT_ID", srv.AccountID, "D1_DATABASE_ID", srv.DatabaseID,
			"D1_API_TOKEN", relD1Token, "D1_API_BASE", srv.URL, "LOG_LEVEL", "debug"}
	}
	for _, tc := range []struct {
		name     string
		extra    func(t *testing.T) []string
		wantCode int
	}{
		{"success", func(t *testing.T) []string {
			return append(services(t, nil), "CUSTOM_REFERRAL_PROGRAM_CYCLES", cycleURL("/cycles.json"))
		}, exitOK},
		{"success after retries", func(t *testing.T) []string {
			return append(services(t, &stripefake.Fault{Path: "/v1/customers", Count: 2, Status: 500},
				d1fake.WithFault(2, d1fake.InternalError())), "CUSTOM_REFERRAL_PROGRAM_CYCLES", cycleURL("/cycles.json"))
		}, exitOK},
		{"stripe refuses the key", func(t *testing.T) []string {
			// The fake's 401 message repeats the key it was sent.
			return append(services(t, &stripefake.Fault{Path: "/v1/invoices", Count: -1, Status: 401}),
				"CUSTOM_REFERRAL_PROGRAM_CYCLES", cycleURL("/cycles.json"))
		}, exitFailed},
		{"stripe down", func(t *testing.T) []string {
			return services(t, &stripefake.Fault{Path: "/v1/refunds", Count: -1, Status: 503})
		}, exitFailed},
		{"d1 refuses the token", func(t *testing.T) []string {
			return services(t, nil, d1fake.WithFaultFrom(1, d1fake.Unauthorized()))
		}, exitFailed},
		{"d1 error echoing the token", func(t *testing.T) []string {
			return services(t, nil, d1fake.WithFaultFrom(1, d1fake.ErrorEnvelope(7500, "bad token "+relD1Token)))
		}, exitFailed},
		{"cycle set not found", func(t *testing.T) []string {
			return append(services(t, nil), "CUSTOM_REFERRAL_PROGRAM_CYCLES", cycleURL("/missing.json"))
		}, exitConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			code, stdout, stderr := runMainEnv(t, relEnv(d, tc.extra(t)...), "run")
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, tc.wantCode, stderr)
			}
			if len(stderr) < 100 {
				t.Errorf("only %d bytes of logs: is debug logging on?", len(stderr))
			}
			outputs := map[string][]byte{"stdout": []byte(stdout), "stderr": []byte(stderr)}
			for _, dir := range []string{d.Public, d.Private} {
				for p, b := range readTree(t, dir) {
					outputs[p] = b
				}
			}
			if b, err := os.ReadFile(d.Warehouse); err == nil {
				outputs["warehouse.sqlite"] = b
			}
			if code == exitOK && len(outputs) < 10 {
				t.Fatalf("only %d outputs to check", len(outputs))
			}
			for name, b := range outputs {
				for _, c := range canaries {
					if bytes.Contains(b, []byte(c)) {
						t.Errorf("%s contains the secret %q", name, c)
					}
				}
			}
		})
	}
}

// relShuffledCopy writes the fixture referrals database and Stripe export
// with every table's rows and every export line in a random order.
func relShuffledCopy(t *testing.T, seed uint64) (dbPath, ndjsonPath string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	dir := t.TempDir()
	src := filepath.Join(dir, "fixture.sqlite")
	if err := os.WriteFile(src, fixtures.ReferralsSQLite, 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath = filepath.Join(dir, "shuffled.sqlite")
	in, err := sql.Open("sqlite", src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	out.SetMaxOpenConns(1) // the ATTACH belongs to one connection
	if _, err := out.Exec(`ATTACH DATABASE ? AS src`, src); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"users", "referrals"} {
		var ddl string
		if err := in.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		// Copy the stored values untouched (the driver would parse DATETIME
		// text), one row at a time in a shuffled rowid order.
		var ids []int64
		rows, err := in.Query(`SELECT rowid FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) < 10 {
			t.Fatalf("only %d rows in %s", len(ids), table)
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids {
			if _, err := out.Exec(`INSERT INTO main.`+table+` SELECT * FROM src.`+table+` WHERE rowid = ?`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The copy must read back in another order, or the test proves nothing.
	orig, err := sqlitesrc.New(src).ReadReferrals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	shuffled, err := sqlitesrc.New(dbPath).ReadReferrals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(orig.Rows, shuffled.Rows) || reflect.DeepEqual(orig.Users, shuffled.Users) ||
		len(orig.Rows) != len(shuffled.Rows) {
		t.Fatal("the shuffled database reads back in the original order")
	}
	lines := bytes.Split(bytes.TrimSpace(fixtures.StripeNDJSON), []byte("\n"))
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	ndjsonPath = filepath.Join(dir, "shuffled.ndjson")
	if err := os.WriteFile(ndjsonPath, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return dbPath, ndjsonPath
}

// Shuffling every input (users, referrals rows, customers, subscriptions,
// invoices, refunds) changes nothing: the same snapshot id, byte-identical
// public files and CSV reports, identical warehouse rows.
func TestReliabilityShuffledInputsSameOutput(t *testing.T) {
	t.Parallel()
	base := newDirs(t)
	baseRep, err := runEnv(t, relEnv(base))
	if err != nil {
		t.Fatalf("%v", err)
	}
	basePublic, basePrivate := readTree(t, base.Public), readTree(t, base.Private)
	baseRows := relSQLiteRows(t, base.Warehouse)
	for _, seed := range []uint64{1, 2} {
		db, nd := relShuffledCopy(t, seed)
		d := newDirs(t)
		rep, err := runEnv(t, relEnv(d, "REFERRALS_SOURCE", "sqlite:"+db, "STRIPE_SOURCE", "file:"+nd))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if rep.SnapshotID != baseRep.SnapshotID {
			t.Errorf("seed %d: snapshot %s, want %s", seed, rep.SnapshotID, baseRep.SnapshotID)
		}
		if diff := diffTrees(withoutSources(basePublic), withoutSources(readTree(t, d.Public))); diff != "" {
			t.Errorf("seed %d: public files differ:\n%s", seed, diff)
		}
		if diff := diffTrees(basePrivate, readTree(t, d.Private)); diff != "" {
			t.Errorf("seed %d: CSV reports differ:\n%s", seed, diff)
		}
		if diff := warehousetest.Diff(baseRows, relSQLiteRows(t, d.Warehouse)); diff != "" {
			t.Errorf("seed %d: warehouse rows differ:\n%s", seed, diff)
		}
	}
}

var relEmailLike = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)

// On a generated dataset of 5,000 referrals (with its malformed rows) no
// public file holds an email address, or even an '@'; the private outputs
// do (the check can see them).
func TestReliabilityGeneratedDatasetPublishesNoEmail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := synth.Generate(t.Context(), synth.Config{Dir: dir, Referrals: 5000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	d := newDirs(t)
	_, err := runEnv(t, relEnv(d, "AS_OF", "2026-07-15T00:00:00Z",
		"REFERRALS_SOURCE", "sqlite:"+filepath.Join(dir, synth.FileReferrals),
		"STRIPE_SOURCE", "file:"+filepath.Join(dir, synth.FileStripe),
		"CUSTOM_REFERRAL_PROGRAM_CYCLES", "file://"+filepath.Join(dir, synth.FileCycles), "WAREHOUSE", "none"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	public := readTree(t, d.Public)
	if len(public) < 500 {
		t.Fatalf("only %d public files", len(public))
	}
	for _, p := range slices.Sorted(maps.Keys(public)) {
		if strings.Contains(p, "@") {
			t.Errorf("file name %s contains '@'", p)
		}
		if i := bytes.IndexByte(public[p], '@'); i >= 0 {
			t.Errorf("%s contains '@': %q", p, public[p][max(0, i-40):min(len(public[p]), i+40)])
		}
	}
	seen := false
	for _, b := range readTree(t, d.Private) {
		seen = seen || relEmailLike.Match(b)
	}
	if !seen {
		t.Error("no email in the private reports either: is the check blind?")
	}
}

// relCheckSnapshot checks that latest.json names a snapshot directory whose
// manifest lists every file in it with the right sha256.
func relCheckSnapshot(t *testing.T, public string) string {
	t.Helper()
	latest, err := os.ReadFile(filepath.Join(public, "latest.json"))
	if err != nil {
		t.Fatalf("latest.json: %v", err)
	}
	var doc struct{ SnapshotID, Path string }
	if err := json.Unmarshal(latest, &doc); err != nil || doc.SnapshotID == "" || doc.Path != "snapshots/"+doc.SnapshotID+"/" {
		t.Fatalf("latest.json %q: %v", latest, err)
	}
	dir := filepath.Join(public, filepath.FromSlash(doc.Path))
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("latest.json points at %s, which has no manifest: %v", doc.Path, err)
	}
	var manifest struct {
		SnapshotID string
		Files      []struct {
			Path   string
			SHA256 string
		}
	}
	if err := json.Unmarshal(mb, &manifest); err != nil || manifest.SnapshotID != doc.SnapshotID || len(manifest.Files) < 5 {
		t.Fatalf("manifest of %s: %v (%d files)", doc.SnapshotID, err, len(manifest.Files))
	}
	listed := map[string]bool{"manifest.json": true}
	for _, f := range manifest.Files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatalf("snapshot %s: %v", doc.SnapshotID, err)
		}
		if got := relSHA256(b); got != f.SHA256 {
			t.Fatalf("snapshot %s: %s has sha256 %s, manifest says %s", doc.SnapshotID, f.Path, got, f.SHA256)
		}
		listed[f.Path] = true
	}
	for p := range readTree(t, dir) {
		if !listed[p] {
			t.Fatalf("snapshot %s: %s is not in the manifest", doc.SnapshotID, p)
		}
	}
	return doc.SnapshotID
}

// noTempLeft fails when a publication left a temporary file or directory.
func noTempLeft(t *testing.T, public string) {
	t.Helper()
	for _, dir := range []string{public, filepath.Join(public, "snapshots")} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".latest.json.tmp-") {
				t.Errorf("%s left in %s", e.Name(), dir)
			}
		}
	}
}

func relSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// A hostile dataset (testdata/hostile: refcodes with '/', '..', NUL, new
// lines, look-alike letters, '@', device names, 400 bytes; emails with NUL
// and no '@'; an invoice of nearly MaxInt64 in usd and one in an unknown currency;
// a refund of MaxInt64; objects of unknown types) runs to completion:
// every file stays inside its directory under a safe name, nothing public
// holds an '@', every referrals row has its decision and every quarantine
// reason shows up, and the skipped objects are noted in the manifest.
func TestReliabilityHostileDataset(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	rep, err := runEnv(t, relEnv(d,
		"REFERRALS_SOURCE", "d1dump:"+filepath.Join("testdata", "hostile", "referrals.sql"),
		"STRIPE_SOURCE", "file:"+filepath.Join("testdata", "hostile", "stripe.ndjson")))
	if err != nil {
		t.Fatalf("%v", err)
	}
	// Only the three outputs exist under the root, and nothing escaped it.
	ents, err := os.ReadDir(d.Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); n != "public" && n != "private" && !strings.HasPrefix(n, "warehouse.sqlite") {
			t.Errorf("unexpected %s in the output root", n)
		}
	}
	safeName := regexp.MustCompile(`^[A-Za-z0-9_~.-]+\.json$`)
	public := readTree(t, d.Public)
	prefix := "snapshots/" + rep.SnapshotID + "/referrers/"
	referrers := 0
	for p, b := range public {
		if bytes.IndexByte(b, '@') >= 0 {
			t.Errorf("%s contains '@'", p)
		}
		if !strings.HasPrefix(p, "snapshots/"+rep.SnapshotID+"/") && p != "latest.json" {
			t.Errorf("file %q outside the snapshot directory", p)
		}
		if name, ok := strings.CutPrefix(p, prefix); ok {
			referrers++
			if !safeName.MatchString(name) || len(name) > 255 || strings.HasPrefix(name, ".") {
				t.Errorf("referrer file name %q is not safe", name)
			}
		}
	}
	// One file per distinct refcode, no two sharing a file (users rows
	// without a refcode, NULL or '', have no file: nobody can refer with
	// them).
	distinct := map[string]bool{}
	for _, u := range rep.Result.Referrers {
		if u.Refcode != "" {
			distinct[u.Refcode] = true
		}
	}
	if referrers != len(distinct) || referrers < 16 {
		t.Errorf("%d referrer files for %d distinct refcodes", referrers, len(distinct))
	}
	// Every quarantine and exclusion reason is in the warehouse.
	rows := relSQLiteRows(t, d.Warehouse)
	reasons := map[string]int{}
	for _, r := range rows.ReferralDecisions {
		reasons[r.Reason]++
	}
	for _, want := range []string{"invalid_email", "unknown_refcode", "invalid_timestamp", "self_referral", "duplicate_referee", "currency_mismatch"} {
		if reasons[want] == 0 {
			t.Errorf("no decision with reason %s (reasons: %v)", want, reasons)
		}
	}
	if n := len(rep.Result.Decisions); n != int(rep.Counts.Referrals) {
		t.Errorf("%d decisions for %d referrals rows", n, rep.Counts.Referrals)
	}
	manifest := public["snapshots/"+rep.SnapshotID+"/manifest.json"]
	if !bytes.Contains(manifest, []byte("weird_object")) {
		t.Errorf("the manifest does not note the skipped objects of unknown type:\n%s", manifest)
	}

	// A value that is no boolean in referrals.rewarded is a clear error
	// naming the row and the column, and nothing is published.
	dump, err := os.ReadFile(filepath.Join("testdata", "hostile", "referrals.sql"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.sql")
	dump = bytes.Replace(dump, []byte("'2026-03-04 10:00:00',NULL,1);"), []byte("'2026-03-04 10:00:00',NULL,'yes');"), 1)
	if err := os.WriteFile(bad, dump, 0o600); err != nil {
		t.Fatal(err)
	}
	d2 := newDirs(t)
	_, err = runEnv(t, relEnv(d2, "REFERRALS_SOURCE", "d1dump:"+bad))
	if err == nil || !strings.Contains(err.Error(), "payer4@example.com") || !strings.Contains(err.Error(), "rewarded") {
		t.Errorf("rewarded 'yes': err = %v, want an error naming the row and the column", err)
	}
	if len(readTree(t, d2.Public)) != 0 {
		t.Error("a failed run published files")
	}
}
