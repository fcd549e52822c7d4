package bigquery_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/option"

	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/bigquery/bqfake"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
	"github.com/refrecon/refrecon/sources/retry"
)

const (
	project = "acme-finance"
	dataset = "refrecon"
)

var (
	day1 = civil.Date{Year: 2026, Month: 4, Day: 15}
	day2 = civil.Date{Year: 2026, Month: 4, Day: 16}
)

// harness is the warehouse under test, read back through the fake.
type harness struct {
	*bigquery.Warehouse
	fake             *bqfake.Server
	project, dataset string
}

func (h harness) ReadDay(ctx context.Context, date civil.Date) (warehousetest.Day, error) {
	return h.fake.ReadDay(ctx, h.project, h.dataset, date)
}

// open starts a fake and opens a warehouse on it; cfg's zero fields get
// test defaults (no backoff wait).
func open(t *testing.T, cfg bigquery.Config) (*bqfake.Server, harness) {
	t.Helper()
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	if cfg.Project == "" {
		cfg.Project = project
	}
	if cfg.Dataset == "" {
		cfg.Dataset = dataset
	}
	if cfg.Location == "" {
		cfg.Location = "EU"
	}
	cfg.Endpoint = fake.URL() // bare host: Open adds /bigquery/v2/
	if cfg.Retry.Sleep == nil {
		cfg.Retry.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	}
	w, err := bigquery.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	t.Cleanup(func() {
		if u := fake.Unknown(); len(u) > 0 {
			t.Errorf("client called routes the fake does not serve: %v", u)
		}
	})
	return fake, harness{w, fake, cfg.Project, cfg.Dataset}
}

// write writes s to w and fails the test when it cannot.
func write(t *testing.T, w harness, s warehouse.Snapshot) {
	t.Helper()
	if err := w.WriteSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// createByHand makes table in the fake's dataset through the real client,
// as an operator would before the first run.
func createByHand(t *testing.T, fake *bqfake.Server, table string, md *bq.TableMetadata) {
	t.Helper()
	ctx := context.Background()
	fake.AddDataset(project, dataset)
	client, err := bq.NewClient(ctx, project, option.WithEndpoint(fake.Endpoint()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Dataset(dataset).Table(table).Create(ctx, md); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T) warehousetest.Driver {
		_, w := open(t, bigquery.Config{})
		return w
	})
}

func TestConformanceWithSmallPages(t *testing.T) {
	// tabledata.list paging: one row per page.
	fake, w := open(t, bigquery.Config{})
	fake.SetPageSize(1)
	want := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	write(t, w, want.Snapshot())
	warehousetest.Check(context.Background(), t, w, want)
	if n := fake.Requests("tabledata.list"); n < len(want.LeaderboardEntries) {
		t.Errorf("tabledata.list called %d times; want one per row with page size 1", n)
	}
}

func TestCreatesDatasetAndPartitionedClusteredTables(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	write(t, w, warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if n := fake.Requests("datasets.insert"); n != 1 {
		t.Errorf("datasets.insert: %d calls, want 1", n)
	}
	wantCluster := map[string][]string{
		warehouse.TableRuns:               nil,
		warehouse.TableCycleSummaries:     {"cycle_id"},
		warehouse.TableLeaderboardEntries: {"cycle_id", "refcode"},
		warehouse.TableReferralDecisions:  {"refcode"},
		warehouse.TablePaymentAccounting:  {"cycle_id", "refcode"},
		warehouse.TableSubscriptions:      nil,
	}
	schemas, err := bigquery.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range warehouse.Tables() {
		md, ok := fake.Table(project, dataset, tb.Name)
		if !ok {
			t.Errorf("table %s was not created", tb.Name)
			continue
		}
		if tp := md.TimePartitioning; tp == nil || tp.Type != "DAY" || tp.Field != "snapshot_date" {
			t.Errorf("%s: time partitioning %+v, want DAY on snapshot_date", tb.Name, tp)
		}
		var cluster []string
		if md.Clustering != nil {
			cluster = md.Clustering.Fields
		}
		if !slices.Equal(cluster, wantCluster[tb.Name]) {
			t.Errorf("%s: clustering %v, want %v", tb.Name, cluster, wantCluster[tb.Name])
		}
		if md.Location != "EU" {
			t.Errorf("%s: location %q, want the configured EU", tb.Name, md.Location)
		}
		var got []string
		for _, f := range md.Schema.Fields {
			got = append(got, f.Name+" "+f.Type+" "+f.Mode)
		}
		var want []string
		for _, f := range schemas[tb.Name] {
			mode := "NULLABLE"
			if f.Repeated {
				mode = "REPEATED"
			} else if f.Required {
				mode = "REQUIRED"
			}
			want = append(want, f.Name+" "+string(f.Type)+" "+mode)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: schema\n got %v\nwant %v", tb.Name, got, want)
		}
	}

	// Existing tables are reused, not recreated.
	write(t, w, warehousetest.Sample(day2, "20260416T000000Z-bbbbbbbbbbbb").Snapshot())
	if n := fake.Requests("tables.insert"); n != len(warehouse.Tables()) {
		t.Errorf("tables.insert: %d calls after two writes, want %d", n, len(warehouse.Tables()))
	}
	if n := fake.Requests("datasets.insert"); n != 1 {
		t.Errorf("datasets.insert: %d calls after two writes, want 1", n)
	}
}

func TestLoadJobsTruncateTheDayPartition(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	write(t, w, warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	jobs := fake.Jobs()
	if len(jobs) != len(warehouse.Tables()) {
		t.Fatalf("%d load jobs, want one per table (%d)", len(jobs), len(warehouse.Tables()))
	}
	var order []string
	for _, j := range jobs {
		l := j.Configuration.Load
		name, dec, _ := strings.Cut(l.DestinationTable.TableId, "$")
		order = append(order, name)
		if dec != "20260415" {
			t.Errorf("%s: destination %s, want the partition decorator $20260415", name, l.DestinationTable.TableId)
		}
		if l.WriteDisposition != "WRITE_TRUNCATE" || l.CreateDisposition != "CREATE_NEVER" || l.SourceFormat != "NEWLINE_DELIMITED_JSON" {
			t.Errorf("%s: write %q create %q format %q, want WRITE_TRUNCATE CREATE_NEVER NEWLINE_DELIMITED_JSON",
				name, l.WriteDisposition, l.CreateDisposition, l.SourceFormat)
		}
		if j.JobReference.Location != "EU" {
			t.Errorf("%s: job location %q, want EU", name, j.JobReference.Location)
		}
		if !strings.HasPrefix(j.JobReference.JobId, "refrecon_"+name+"_20260415-") {
			t.Errorf("%s: job ID %q, want refrecon_%s_20260415-<suffix>", name, j.JobReference.JobId, name)
		}
	}
	if order[len(order)-1] != warehouse.TableRuns {
		t.Errorf("load order %v: runs must be loaded last (completion marker)", order)
	}
}

func TestRewriteKeepsOneCopyAndOtherDays(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	ctx := context.Background()
	s1 := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	for range 2 {
		write(t, w, s1.Snapshot())
	}
	if got := fake.RowsInPartition(project, dataset, warehouse.TableLeaderboardEntries, day1); len(got) != len(s1.LeaderboardEntries) {
		t.Errorf("after two writes of one day: %d leaderboard rows stored, want %d", len(got), len(s1.LeaderboardEntries))
	}
	if got := fake.Rows(project, dataset, warehouse.TableRuns); len(got) != 1 {
		t.Errorf("after two writes of one day: %d runs rows stored, want 1", len(got))
	}

	s2 := warehousetest.Sample(day2, "20260416T000000Z-dddddddddddd")
	write(t, w, s2.Snapshot())
	if got := fake.Partitions(project, dataset, warehouse.TablePaymentAccounting); !slices.Equal(got, []string{"20260415", "20260416"}) {
		t.Errorf("partitions %v, want both days", got)
	}
	runs := fake.Rows(project, dataset, warehouse.TableRuns)
	if len(runs) != 2 {
		t.Fatalf("%d runs rows, want 2", len(runs))
	}
	// Values arrive exactly as BigQuery stores them.
	r := runs[0]
	if r["snapshot_id"] != "20260415T000000Z-aaaaaaaaaaaa" || r["invoices"] != int64(math.MaxInt64) ||
		r["snapshot_date"] != day1 || !r["as_of"].(time.Time).Equal(s1.Runs[0].AsOf) {
		t.Errorf("stored run row %v does not hold the written values", r)
	}
	if notes := r["notes"].([]any); len(notes) != 2 || notes[1] != s1.Runs[0].Notes[1] {
		t.Errorf("stored notes %q, want %q", notes, s1.Runs[0].Notes)
	}

	// The first day reads back unchanged.
	warehousetest.Check(ctx, t, w, s1)
}

func TestJobErrorReportsBigQueryMessage(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	const msg = "Provided Schema does not match Table acme-finance:refrecon.cycle_summaries. Field award_pool has changed type from INTEGER to STRING"
	fake.FailNextJobs(1, bqfake.JobFault{Reason: "invalid", Message: msg})
	err := w.WriteSnapshot(context.Background(), warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "invalid") {
		t.Fatalf("error %v, want BigQuery's reason and message %q", err, msg)
	}
	var je *bigquery.JobError
	if !errors.As(err, &je) || je.Reason() != "invalid" {
		t.Errorf("error %v is not a *JobError with reason invalid", err)
	}
	if n := fake.Requests("jobs.insert"); n != 1 {
		t.Errorf("jobs.insert: %d calls; an invalid job must not be retried nor later tables loaded", n)
	}
	// Nothing was written, runs in particular.
	if rows := fake.Rows(project, dataset, warehouse.TableRuns); len(rows) != 0 {
		t.Errorf("runs holds %d rows after a failed write", len(rows))
	}
}

func TestUnencodableSnapshotFailsBeforeLoading(t *testing.T) {
	// A float NaN cannot be written as JSON: the write fails before any load.
	fake, w := open(t, bigquery.Config{})
	s := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	s.LeaderboardEntries[0].FinalScoreBoost = math.NaN()
	err := w.WriteSnapshot(context.Background(), s.Snapshot())
	if err == nil || !strings.Contains(err.Error(), "leaderboard_entries") {
		t.Fatalf("error %v, want an encoding error naming leaderboard_entries", err)
	}
	if n := fake.Requests("jobs.insert"); n != 0 {
		t.Errorf("jobs.insert: %d calls for an unencodable snapshot, want 0", n)
	}
}

func TestRowRejectedByBigQuery(t *testing.T) {
	// An existing table with an extra REQUIRED column passes the column
	// check, but BigQuery rejects rows without it: the job's own message
	// reaches the caller.
	fake, w := open(t, bigquery.Config{})
	md, err := bigquery.TableMetadata(warehouse.TableSubscriptions)
	if err != nil {
		t.Fatal(err)
	}
	md.Schema = append(md.Schema, &bq.FieldSchema{Name: "region", Type: bq.StringFieldType, Required: true})
	createByHand(t, fake, warehouse.TableSubscriptions, md)
	err = w.WriteSnapshot(context.Background(), warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if err == nil || !strings.Contains(err.Error(), "Missing required field: region.") {
		t.Fatalf("error %v, want BigQuery's \"Missing required field: region.\"", err)
	}
}

func TestTimesAreWrittenAtMicrosecondPrecision(t *testing.T) {
	// BigQuery rejects TIMESTAMP text with more than six fractional digits;
	// nanoseconds are truncated, zones converted to UTC.
	fake, w := open(t, bigquery.Config{})
	s := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	at := time.Date(2026, 3, 5, 10, 0, 0, 123456789, time.FixedZone("X", -7*3600))
	s.Subscriptions[0].Created = at
	s.ReferralDecisions[0].Conversions[0].ConvertedAt = at
	write(t, w, s.Snapshot())
	want := at.UTC().Truncate(time.Microsecond)
	stored := fake.RowsInPartition(project, dataset, warehouse.TableSubscriptions, day1)
	if got := stored[0]["created"].(time.Time); !got.Equal(want) {
		t.Errorf("stored created %v, want %v", got, want)
	}
	got, err := w.ReadDay(context.Background(), day1)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, rd := range got.ReferralDecisions {
		for _, c := range rd.Conversions {
			if c.InvoiceID == "in_1" {
				found = true
				if c.ConvertedAt != want {
					t.Errorf("read converted_at %v, want %v (UTC, microseconds)", c.ConvertedAt, want)
				}
			}
		}
	}
	if !found {
		t.Error("conversion in_1 not read back")
	}
}

func TestUploadServerErrorIsRetried(t *testing.T) {
	var waits []int
	fake, w := open(t, bigquery.Config{Retry: retry.Policy{Notify: func(_ error, n int, _ time.Duration) { waits = append(waits, n) }}})
	fake.FailNextUploads(2, 503)
	s := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	if err := w.WriteSnapshot(context.Background(), s.Snapshot()); err != nil {
		t.Fatalf("WriteSnapshot with two 503s on upload: %v", err)
	}
	if n := fake.Requests("jobs.insert"); n != len(warehouse.Tables())+2 {
		t.Errorf("jobs.insert: %d calls, want %d (two retried uploads)", n, len(warehouse.Tables())+2)
	}
	if !slices.Equal(waits, []int{1, 2}) {
		t.Errorf("retries after attempts %v, want [1 2]", waits)
	}
	warehousetest.Check(context.Background(), t, w, s)
}

func TestTransientJobErrorIsRetried(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	fake.FailNextJobs(1, bqfake.JobFault{Reason: "backendError", Message: "Error encountered during execution. Retrying may solve the problem."})
	s := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	if err := w.WriteSnapshot(context.Background(), s.Snapshot()); err != nil {
		t.Fatalf("WriteSnapshot with one backendError job: %v", err)
	}
	warehousetest.Check(context.Background(), t, w, s)
}

func TestPersistentFailureGivesUpAfterMaxAttempts(t *testing.T) {
	fake, w := open(t, bigquery.Config{Retry: retry.Policy{MaxAttempts: 3}})
	fake.FailNextUploads(100, 500)
	err := w.WriteSnapshot(context.Background(), warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "injected upload failure") {
		t.Fatalf("error %v, want giving up after 3 attempts with the server's message", err)
	}
	if !errors.Is(err, retry.ErrTransient) {
		t.Errorf("error %v is not of class retry.ErrTransient", err)
	}
	if n := fake.Requests("jobs.insert"); n != 3 {
		t.Errorf("jobs.insert: %d calls, want 3", n)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake, w := open(t, bigquery.Config{Retry: retry.Policy{Sleep: func(ctx context.Context, _ time.Duration) error {
		cancel() // the job is stopped while it waits to retry
		<-ctx.Done()
		return ctx.Err()
	}}})
	fake.FailNextUploads(1, 503)
	err := w.WriteSnapshot(ctx, warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := fake.Requests("jobs.insert"); n != 1 {
		t.Errorf("jobs.insert: %d calls after cancellation, want 1", n)
	}
}

func TestDefaultBackoffIsBoundedByContext(t *testing.T) {
	// With the default policy (sources/retry), cancelling ends the wait.
	fake := bqfake.New()
	defer fake.Close()
	w, err := bigquery.Open(context.Background(), bigquery.Config{Project: project, Dataset: dataset, Endpoint: fake.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	fake.FailNextUploads(100, 503) // whenever the cancel lands, it is during a wait
	go func() {
		// Cancel once the failed upload has been answered.
		for fake.Requests("jobs.insert") == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err = w.WriteSnapshot(ctx, warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestExistingTableIsCheckedNotAltered(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	// An unpartitioned runs table made by hand.
	createByHand(t, fake, "runs", &bq.TableMetadata{
		Schema: bq.Schema{{Name: "snapshot_id", Type: bq.StringFieldType}},
	})
	err := w.WriteSnapshot(context.Background(), warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if err == nil || !strings.Contains(err.Error(), "not partitioned") {
		t.Fatalf("error %v, want a complaint about partitioning", err)
	}
	if n := fake.Requests("jobs.insert"); n != 0 {
		t.Errorf("jobs.insert: %d calls with a wrong existing table, want 0", n)
	}
	if rows := fake.Rows(project, dataset, "runs"); len(rows) != 0 {
		t.Errorf("runs holds %d rows", len(rows))
	}
}

func TestExistingTableMissingColumns(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	createByHand(t, fake, "subscriptions", &bq.TableMetadata{
		Schema: bq.Schema{
			{Name: "snapshot_date", Type: bq.DateFieldType, Required: true},
			{Name: "snapshot_id", Type: bq.IntegerFieldType},
		},
		TimePartitioning: &bq.TimePartitioning{Field: "snapshot_date"},
	})
	err := w.WriteSnapshot(context.Background(), warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	if err == nil || !strings.Contains(err.Error(), "column snapshot_id is INTEGER, want STRING") || !strings.Contains(err.Error(), "missing column price_ids") {
		t.Fatalf("error %v, want the schema differences listed", err)
	}
	if n := fake.Requests("jobs.insert"); n != 0 {
		t.Errorf("jobs.insert: %d calls with a wrong existing table, want 0", n)
	}
}

func TestExistingDatasetIsNotCreated(t *testing.T) {
	fake, w := open(t, bigquery.Config{})
	fake.AddDataset(project, dataset)
	write(t, w, warehouse.Snapshot{Date: day1})
	if n := fake.Requests("datasets.insert"); n != 0 {
		t.Errorf("datasets.insert: %d calls for an existing dataset, want 0", n)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []bigquery.Config{
		{Project: "", Dataset: "d", Endpoint: "http://localhost:1"},
		{Project: "p", Dataset: "bad-name", Endpoint: "http://localhost:1"},
		{Project: "p", Dataset: "d", Endpoint: "localhost:9050"},
		{Project: "p", Dataset: "d", Endpoint: "http://user:secret@localhost:9050"},
		{Project: "p", Dataset: "d", Endpoint: "http://localhost:1", Retry: retry.Policy{MaxAttempts: -1}},
	} {
		if w, err := bigquery.Open(ctx, cfg); err == nil {
			_ = w.Close()
			t.Errorf("Open(%+v): no error", cfg)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open error leaks the URL password: %v", err)
		}
	}
}

func TestSchemasMatchRowTypes(t *testing.T) {
	schemas, err := bigquery.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range warehouse.Tables() {
		s := schemas[tb.Name]
		rt := reflect.TypeOf(tb.Row)
		if len(s) != rt.NumField() {
			t.Errorf("%s: %d columns for %d struct fields", tb.Name, len(s), rt.NumField())
		}
		if s[1].Name != bigquery.PartitionField || s[1].Type != bq.DateFieldType {
			t.Errorf("%s: second column %s %s, want snapshot_date DATE", tb.Name, s[1].Name, s[1].Type)
		}
	}
	md, err := bigquery.TableMetadata("no_such_table")
	if err == nil {
		t.Errorf("TableMetadata(no_such_table) = %v, want an error", md)
	}
}
