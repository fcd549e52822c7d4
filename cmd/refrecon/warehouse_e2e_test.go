package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/refrecon/refrecon/sinks/bigquery/bqfake"
	"github.com/refrecon/refrecon/sinks/sqlite/sqlitetest"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
	"github.com/refrecon/refrecon/sources/referrals"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// execSQLite runs stmts, in order, on the SQLite file at path (created
// when it does not exist).
func execSQLite(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", referrals.FileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// whCounts is the number of rows of every warehouse table.
func whCounts(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tb := range warehouse.Tables() {
		out[tb.Name] = queryInt(t, db, `SELECT count(*) FROM "`+tb.Name+`"`)
	}
	return out
}

// The SQLite warehouse: one decision per referrals row, one accounting row
// per revenue event, and a re-run of the same day replaces its rows.
func TestE2EWarehouseRows(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	rep := mustRun(t, d.env(fixtureAsOf))
	db := openDB(t, d.Warehouse)

	// Every referrals row of the source has exactly one decision, matched
	// by its raw email (the referrals table's primary key).
	refs, err := sqlitesrc.New(repoFile(t, "fixtures/referrals.sqlite")).ReadReferrals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, db, `SELECT count(*) FROM referral_decisions WHERE snapshot_id = ?`, rep.SnapshotID); got != int64(len(refs.Rows)) {
		t.Errorf("%d referral_decisions rows, want one per referrals row: %d", got, len(refs.Rows))
	}
	perEmail := map[string]int{}
	rows, err := db.Query(`SELECT referee_email, count(*) FROM referral_decisions GROUP BY referee_email`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		var n int
		if err := rows.Scan(&e, &n); err != nil {
			t.Fatal(err)
		}
		perEmail[e] = n
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range refs.Rows {
		if perEmail[r.Email] != 1 {
			t.Errorf("referrals row %q has %d decisions, want 1", r.Email, perEmail[r.Email])
		}
		delete(perEmail, r.Email)
	}
	for e, n := range perEmail {
		t.Errorf("%d decisions for %q, which is no referrals row", n, e)
	}

	// One accounting row per revenue event, and they add up to each
	// cycle's revenue in cycle_summaries.
	var events int64
	for _, c := range rep.Result.Cycles {
		events += int64(len(c.Events))
		n := queryInt(t, db, `SELECT count(*) FROM payment_accounting WHERE cycle_id = ?`, c.Cycle.ID)
		distinct := queryInt(t, db, `SELECT count(DISTINCT invoice_id) FROM payment_accounting WHERE cycle_id = ?`, c.Cycle.ID)
		if n != int64(len(c.Events)) || distinct != n {
			t.Errorf("cycle %s: %d accounting rows (%d invoices), want %d revenue events", c.Cycle.ID, n, distinct, len(c.Events))
		}
		sum := queryInt(t, db, `SELECT coalesce(sum(net), 0) FROM payment_accounting WHERE cycle_id = ?`, c.Cycle.ID)
		rev := queryInt(t, db, `SELECT revenue FROM cycle_summaries WHERE cycle_id = ?`, c.Cycle.ID)
		if sum != rev || rev != c.Totals.Revenue {
			t.Errorf("cycle %s: accounting nets add up to %d, cycle_summaries.revenue %d, result %d", c.Cycle.ID, sum, rev, c.Totals.Revenue)
		}
	}
	if events == 0 {
		t.Fatal("the fixture run has no revenue events")
	}
	counts := whCounts(t, db)
	if counts["payment_accounting"] != events || counts["runs"] != 1 {
		t.Errorf("table counts %v, want %d payment_accounting rows and 1 run", counts, events)
	}

	// The same run again, then a later run of the same day: the day's rows
	// are replaced, never duplicated.
	mustRun(t, d.env(fixtureAsOf))
	if again := whCounts(t, db); !equalCounts(again, counts) {
		t.Errorf("after a re-run: %v, want %v", again, counts)
	}
	later := mustRun(t, d.env("2026-04-15T18:30:00Z"))
	after := whCounts(t, db)
	if after["runs"] != 1 || after["referral_decisions"] != counts["referral_decisions"] {
		t.Errorf("after a later run the same day: %v, want 1 run and %d decisions", after, counts["referral_decisions"])
	}
	if other := queryInt(t, db, `SELECT count(*) FROM referral_decisions WHERE snapshot_id <> ?`, later.SnapshotID); other != 0 {
		t.Errorf("%d decisions of an earlier run of the day are left", other)
	}
	// Another day is kept beside it.
	mustRun(t, d.env("2026-04-16T00:00:00Z"))
	if n := queryInt(t, db, `SELECT count(DISTINCT snapshot_date) FROM referral_decisions`); n != 2 {
		t.Errorf("%d days of decisions, want 2", n)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// readSQLiteWarehouse reads one day back from the warehouse file.
func readSQLiteWarehouse(t *testing.T, path string, day civil.Date) warehousetest.Day {
	t.Helper()
	s, err := sqlitetest.ReadDay(t.Context(), path, day)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	bqProject = "refrecon-e2e"
	bqDataset = "referrals_ds"
)

func readBigQuery(t *testing.T, fake *bqfake.Server, day civil.Date) warehousetest.Day {
	t.Helper()
	s, err := fake.ReadDay(t.Context(), bqProject, bqDataset, day)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fixtureDay() civil.Date { return civil.Date{Year: 2026, Month: time.April, Day: 15} }

// WAREHOUSE=bigquery against the fake stores the same rows as the SQLite
// warehouse; a failing load fails the run and publishes nothing.
func TestE2EBigQueryParity(t *testing.T) {
	t.Parallel()
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	bqEnv := func(d e2eDirs, asOf string) map[string]string {
		return d.env(asOf, "WAREHOUSE", "bigquery:"+bqProject+"."+bqDataset, "BIGQUERY_ENDPOINT", fake.URL())
	}

	sq := newDirs(t)
	mustRun(t, sq.env(fixtureAsOf))
	want := readSQLiteWarehouse(t, sq.Warehouse, fixtureDay())
	if len(want.ReferralDecisions) == 0 || len(want.PaymentAccounting) == 0 || len(want.Subscriptions) == 0 {
		t.Fatalf("the SQLite warehouse is nearly empty: %d decisions, %d accounting rows, %d subscriptions",
			len(want.ReferralDecisions), len(want.PaymentAccounting), len(want.Subscriptions))
	}

	bq := newDirs(t)
	mustRun(t, bqEnv(bq, fixtureAsOf))
	got := readBigQuery(t, fake, fixtureDay())
	if diff := warehousetest.Diff(want, got); diff != "" {
		t.Errorf("BigQuery rows differ from the SQLite warehouse's:\n%s", diff)
	}
	if n := len(fake.RowsInPartition(bqProject, bqDataset, warehouse.TableReferralDecisions, fixtureDay())); n != len(want.ReferralDecisions) {
		t.Errorf("the fake holds %d decisions in the day's partition, want %d", n, len(want.ReferralDecisions))
	}
	if u := fake.Unknown(); len(u) > 0 {
		t.Errorf("requests the fake does not serve: %q", u)
	}
	// Same public snapshot as with the SQLite warehouse.
	if diff := diffTrees(readTree(t, sq.Public), readTree(t, bq.Public)); diff != "" {
		t.Errorf("public trees differ between warehouses:\n%s", diff)
	}

	// A re-run of the day replaces the partition.
	mustRun(t, bqEnv(bq, fixtureAsOf))
	if n := len(fake.RowsInPartition(bqProject, bqDataset, warehouse.TableReferralDecisions, fixtureDay())); n != len(want.ReferralDecisions) {
		t.Errorf("after a re-run the partition holds %d decisions, want %d", n, len(want.ReferralDecisions))
	}

	// A load job that fails (not retryable) fails the run: the next day's
	// snapshot is not published and latest.json stays.
	before := readTree(t, bq.Public)
	fake.FailNextJobs(1, bqfake.JobFault{Reason: "invalid", Message: "e2e: injected load failure"})
	_, err := runEnv(t, bqEnv(bq, "2026-04-16T00:00:00Z"))
	if err == nil || !strings.Contains(err.Error(), "e2e: injected load failure") {
		t.Fatalf("run with a failing load job: err %v, want the job's error", err)
	}
	if diff := diffTrees(before, readTree(t, bq.Public)); diff != "" {
		t.Errorf("a failed warehouse load changed the public tree:\n%s", diff)
	}
}

// A transient load failure is retried (the driver's default backoff: 1 s
// before the second attempt; cmd/refrecon does not expose the backoff).
func TestE2EBigQueryTransientFailureRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the BigQuery driver's 1 s backoff")
	}
	t.Parallel()
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	d := newDirs(t)
	fake.FailNextJobs(1, bqfake.JobFault{Reason: "backendError", Message: "e2e: transient"})
	rep := mustRun(t, d.env(fixtureAsOf, "WAREHOUSE", "bigquery:"+bqProject+"."+bqDataset, "BIGQUERY_ENDPOINT", fake.URL()))
	got := readBigQuery(t, fake, fixtureDay())
	if len(got.Runs) != 1 || got.Runs[0].SnapshotID != rep.SnapshotID {
		t.Errorf("runs after a retried load: %+v", got.Runs)
	}
	if n := len(fake.Jobs()); n != len(warehouse.Tables())+1 {
		t.Errorf("%d load jobs, want one per table plus the retry (%d)", n, len(warehouse.Tables())+1)
	}
}

// A persistent load failure exhausts the retries and fails the run via
// runMain: exit 1, nothing published. Bounded by a deadline because the
// backoff (1 s, 2 s, 4 s) is not configurable from cmd/refrecon.
func TestE2EBigQueryFailureExit(t *testing.T) {
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	d := newDirs(t)
	env := d.env(fixtureAsOf, "WAREHOUSE", "bigquery:"+bqProject+"."+bqDataset, "BIGQUERY_ENDPOINT", fake.URL(), "LOG_LEVEL", "error")
	code, _, stderr := runMainEnv(t, env, "run")
	if code != exitOK {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	before := readTree(t, d.Public)
	fake.FailNextJobs(1000, bqfake.JobFault{Reason: "backendError", Message: "e2e: down"})
	env["AS_OF"] = "2026-04-16T00:00:00Z"
	setEnv(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code = runMain(ctx, []string{"run"}, &out, &errb)
	if code != exitFailed {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailed, errb.String())
	}
	if !strings.Contains(errb.String(), "warehouse") {
		t.Errorf("stderr does not name the warehouse:\n%s", errb.String())
	}
	if diff := diffTrees(before, readTree(t, d.Public)); diff != "" {
		t.Errorf("a failed run changed the public tree:\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(d.Public, "latest.json")); err != nil {
		t.Error(err)
	}
}
