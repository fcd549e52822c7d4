// Package bigquery is the production warehouse driver (SPEC 3.2): it writes
// a warehouse.Snapshot to BigQuery with the official client
// (cloud.google.com/go/bigquery), one load job per table.
//
// Every table is partitioned by day on snapshot_date. A snapshot is written
// with a load job of newline-delimited JSON into the decorated partition
// table$YYYYMMDD with WRITE_TRUNCATE, so a re-run of the same day replaces
// that day's rows and never duplicates them; other days are untouched. A
// table with no rows for the day is still loaded (with no rows), which
// empties its partition.
//
// Missing tables (and the dataset) are created from the Go row types in
// sinks/warehouse (bigquery.InferSchema), partitioned on snapshot_date and
// clustered on cycle_id and refcode where the table has them. An existing
// table is checked (partitioning and columns) but never altered.
//
// Media uploads are not retried by the client, so each table's load is
// retried whole under the one retry policy (sources/retry, Config.Retry) on
// transient failures; WRITE_TRUNCATE on the partition makes that safe. The runs table
// is loaded last: a run's row in runs is the marker that its other tables
// are complete (deploy/bigquery/views.sql relies on it).
//
// The settlement ledger (table settlements, warehouse.LedgerDriver; see
// ledger.go) is appended to by AppendSettlements and never loaded by
// WriteSnapshot.
package bigquery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/redact"
	"github.com/refrecon/refrecon/sources/retry"
)

// Config says where the warehouse is and how loads are retried.
type Config struct {
	Project string // Google Cloud project of the dataset; jobs run (and are billed) there
	Dataset string // dataset ID; created (in Location) when missing
	// Location of the dataset and of the load jobs, e.g. "US" or
	// "europe-west1"; "" lets BigQuery choose (the dataset's location).
	Location string
	// Endpoint is the REST base URL of a BigQuery emulator or fake, e.g.
	// "http://localhost:9050" (a bare host gets the /bigquery/v2/ path).
	// With it set the client sends no credentials; without it the client
	// talks to Google with Application Default Credentials.
	Endpoint string
	// Options are extra client options (after the Endpoint ones).
	Options []option.ClientOption
	// TempDir is where a table's encoded rows are spooled for its load job
	// when they exceed a few MiB; "" means os.TempDir(). The files hold
	// emails: mode 0600, removed after the write.
	TempDir string
	// Retry is the retry policy of each table's whole load (sources/retry);
	// the zero Policy is the production one.
	Retry retry.Policy
}

// Warehouse writes snapshots to one BigQuery dataset. It is safe for
// concurrent use, but concurrent writes of the same day race (the last
// load of each table wins).
type Warehouse struct {
	client *bq.Client
	ds     *bq.Dataset
	cfg    Config
}

var (
	datasetIDRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`) // and at most 1024 bytes
	projectIDRE = regexp.MustCompile(`^[a-z0-9.:-]{1,100}$`)
)

// Open checks cfg and builds the client. It makes no request: the dataset
// and tables are checked (and created) by WriteSnapshot.
func Open(ctx context.Context, cfg Config) (*Warehouse, error) {
	if !projectIDRE.MatchString(cfg.Project) {
		return nil, fmt.Errorf("open bigquery warehouse: invalid project ID %q", cfg.Project)
	}
	if !datasetIDRE.MatchString(cfg.Dataset) || len(cfg.Dataset) > 1024 {
		return nil, fmt.Errorf("open bigquery warehouse: invalid dataset ID %q (letters, digits and underscores)", cfg.Dataset)
	}
	if err := cfg.Retry.Validate(); err != nil {
		return nil, fmt.Errorf("open bigquery warehouse: %w", err)
	}
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		ep, err := endpointURL(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("open bigquery warehouse: %w", err)
		}
		opts = append(opts, option.WithEndpoint(ep), option.WithoutAuthentication())
	}
	opts = append(opts, cfg.Options...)
	client, err := bq.NewClient(ctx, cfg.Project, opts...)
	if err != nil {
		return nil, fmt.Errorf("open bigquery warehouse: %w", err)
	}
	client.Location = cfg.Location
	return &Warehouse{client: client, ds: client.Dataset(cfg.Dataset), cfg: cfg}, nil
}

// endpointURL validates an endpoint and gives a bare host the REST path.
func endpointURL(raw string) (string, error) {
	u, err := redact.Base(raw)
	if err != nil {
		return "", fmt.Errorf("invalid BigQuery endpoint: %w (want http(s)://host[:port][/path])", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/bigquery/v2/"
	} else if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

// Close releases the client.
func (w *Warehouse) Close() error {
	if err := w.client.Close(); err != nil {
		return fmt.Errorf("close bigquery warehouse: %w", err)
	}
	return nil
}

// writeOrder is warehouse.Tables() with runs moved last: runs is the
// completion marker of a snapshot.
func writeOrder() []warehouse.Table {
	ts := warehouse.Tables()
	slices.SortStableFunc(ts, func(a, b warehouse.Table) int {
		ra, rb := a.Name == warehouse.TableRuns, b.Name == warehouse.TableRuns
		switch {
		case ra == rb:
			return 0
		case ra:
			return 1
		default:
			return -1
		}
	})
	return ts
}

// WriteSnapshot replaces the rows of s.Date in every table with s's rows.
// It checks the date, then encodes every table's rows (one at a time, as
// warehouse.Snapshot.Rows yields them, checking each row's date) into a
// spool per table, so a bad row or value fails before anything is loaded. It
// then ensures the dataset and all tables exist, and loads each table from
// its spool (runs last; a retried load reads the spool again). A spool is
// in memory up to a few MiB, then a temporary file (mode 0600, in
// Config.TempDir) removed when the write ends. On error, tables loaded
// before the failing one already hold the new rows; a later successful
// write of the same day repairs that.
func (w *Warehouse) WriteSnapshot(ctx context.Context, s warehouse.Snapshot) error {
	if err := s.ValidateDate(); err != nil {
		return fmt.Errorf("write bigquery snapshot: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write bigquery snapshot %s: %w", s.Date, err)
	}
	tables := writeOrder()
	// Encode everything before touching BigQuery, so bad values fail early.
	media := make([]*spool, len(tables))
	defer func() {
		for _, m := range media {
			if m != nil {
				m.remove()
			}
		}
	}()
	for i, t := range tables {
		media[i] = &spool{dir: w.cfg.TempDir}
		if err := encodeRows(ctx, media[i], s.Rows(t.Name)); err != nil {
			return fmt.Errorf("write bigquery snapshot %s: encode %s: %w", s.Date, t.Name, err)
		}
	}
	if err := w.ensureDataset(ctx); err != nil {
		return fmt.Errorf("write bigquery snapshot %s: %w", s.Date, err)
	}
	for _, t := range tables {
		if err := w.ensureTable(ctx, t); err != nil {
			return fmt.Errorf("write bigquery snapshot %s: %w", s.Date, err)
		}
	}
	for i, t := range tables {
		if err := w.load(ctx, t.Name, s.Date, media[i]); err != nil {
			return fmt.Errorf("write bigquery snapshot %s: %w", s.Date, err)
		}
	}
	return nil
}

// partition is the decorated table ID of one day: name$YYYYMMDD.
func partition(table string, d civil.Date) string {
	return fmt.Sprintf("%s$%04d%02d%02d", table, d.Year, int(d.Month), d.Day)
}

// load runs one table's load job, retrying the whole load on transient
// failures.
func (w *Warehouse) load(ctx context.Context, table string, date civil.Date, media *spool) error {
	dst := partition(table, date)
	_, err := retry.Do(ctx, w.cfg.Retry, func(ctx context.Context) (struct{}, error) {
		jobID := fmt.Sprintf("refrecon_%s_%04d%02d%02d", table, date.Year, int(date.Month), date.Day)
		return struct{}{}, classify(w.loadOnce(ctx, dst, jobID, bq.WriteTruncate, media))
	})
	if err != nil {
		return fmt.Errorf("load %s: %w", dst, err)
	}
	return nil
}

// loadOnce runs one load job of media into dst (a table or a partition)
// with the write disposition disp; jobID is the job ID's prefix.
func (w *Warehouse) loadOnce(ctx context.Context, dst, jobID string, disp bq.TableWriteDisposition, media *spool) error {
	src := bq.NewReaderSource(media.reader())
	src.SourceFormat = bq.JSON
	l := w.ds.Table(dst).LoaderFrom(src)
	l.WriteDisposition = disp
	l.CreateDisposition = bq.CreateNever // ensureTable created it with partitioning
	// One multipart request; the media is never chunked into a resumable
	// upload (ENGINEERING.md).
	l.MediaOptions = []googleapi.MediaOption{googleapi.ChunkSize(0), googleapi.ContentType("application/octet-stream")}
	l.JobID = jobID
	l.AddJobIDSuffix = true
	l.Labels = map[string]string{"app": "refrecon"}
	job, err := l.Run(ctx)
	if err != nil {
		return fmt.Errorf("start load job: %w", err)
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return fmt.Errorf("wait for load job %s: %w", job.ID(), err)
	}
	if status.Err() != nil {
		return newJobError(job.ID(), status)
	}
	return nil
}

// JobError is a load job that finished with errors, in BigQuery's words.
type JobError struct {
	JobID  string
	Errors []*bq.Error // the errorResult first, then the other errors
}

func newJobError(id string, st *bq.JobStatus) *JobError {
	e := &JobError{JobID: id}
	var first *bq.Error
	if errors.As(st.Err(), &first) {
		e.Errors = append(e.Errors, first)
	}
	for _, x := range st.Errors {
		if x != nil && (first == nil || x.Message != first.Message || x.Reason != first.Reason) {
			e.Errors = append(e.Errors, x)
		}
	}
	if len(e.Errors) == 0 {
		e.Errors = append(e.Errors, &bq.Error{Message: st.Err().Error()})
	}
	return e
}

func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "load job %s failed", e.JobID)
	for i, x := range e.Errors {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-i)
			break
		}
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		b.WriteString(sep)
		if x.Reason != "" {
			b.WriteString(x.Reason + ": ")
		}
		b.WriteString(x.Message)
		if x.Location != "" {
			b.WriteString(" (at " + x.Location + ")")
		}
	}
	return b.String()
}

// Reason is the reason of the job's main error (e.g. "invalid").
func (e *JobError) Reason() string { return e.Errors[0].Reason }

// transientReasons are BigQuery error reasons worth another attempt
// (https://cloud.google.com/bigquery/docs/error-messages).
var transientReasons = []string{"backendError", "internalError", "rateLimitExceeded", "jobBackendError", "jobInternalError", "jobRateLimitExceeded"}

// classify gives a failed load its error class (sources/retry): transient
// ones are retried.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var je *JobError
	if errors.As(err, &je) {
		if slices.Contains(transientReasons, je.Reason()) {
			return retry.Transient(err, 0)
		}
		return retry.Mark(err, retry.ErrBadInput)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		if c := retry.StatusClass(ge.Code); c == retry.ErrTransient {
			return retry.Transient(err, retry.RetryAfter(ge.Header))
		} else if c != nil {
			return retry.Mark(err, c)
		}
		return err
	}
	// The connection failed or broke (no HTTP answer, or an answer cut
	// short: the job may have run, and WRITE_TRUNCATE makes loading again
	// safe): try again.
	var ue *url.Error
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ue) {
		return retry.Transient(err, 0)
	}
	return err
}

func isHTTP(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

// ensureDataset creates the dataset when it does not exist.
func (w *Warehouse) ensureDataset(ctx context.Context) error {
	_, err := w.ds.Metadata(ctx)
	if err == nil {
		return nil
	}
	if !isHTTP(err, 404) {
		return fmt.Errorf("get dataset %s: %w", w.cfg.Dataset, err)
	}
	md := &bq.DatasetMetadata{
		Location:    w.cfg.Location,
		Description: "refrecon warehouse (SPEC 3.2); tables are created and loaded by refrecon",
		Labels:      map[string]string{"app": "refrecon"},
	}
	if err := w.ds.Create(ctx, md); err != nil && !isHTTP(err, 409) {
		return fmt.Errorf("create dataset %s: %w", w.cfg.Dataset, err)
	}
	return nil
}

// ensureTable creates a missing table, or checks an existing one.
func (w *Warehouse) ensureTable(ctx context.Context, t warehouse.Table) error {
	want, err := TableMetadata(t.Name)
	if err != nil {
		return err
	}
	tb := w.ds.Table(t.Name)
	md, err := tb.Metadata(ctx)
	if isHTTP(err, 404) {
		err = tb.Create(ctx, want)
		if err == nil {
			return nil
		}
		if !isHTTP(err, 409) { // 409: created meanwhile by someone else
			return fmt.Errorf("create table %s: %w", t.Name, err)
		}
		md, err = tb.Metadata(ctx)
	}
	if err != nil {
		return fmt.Errorf("get table %s: %w", t.Name, err)
	}
	if err := checkTable(md, want); err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	return nil
}

// checkTable reports an existing table the loads would fail on or write
// wrongly: not day-partitioned on snapshot_date, or a column missing or of
// another type. Extra columns are the operator's business.
func checkTable(got, want *bq.TableMetadata) error {
	tp := got.TimePartitioning
	if tp == nil || tp.Field != want.TimePartitioning.Field || (tp.Type != "" && tp.Type != bq.DayPartitioningType) {
		return fmt.Errorf("exists but is not partitioned by DAY on %s; migrate or drop it", want.TimePartitioning.Field)
	}
	have := map[string]*bq.FieldSchema{}
	for _, f := range got.Schema {
		have[f.Name] = f
	}
	var problems []string
	for _, f := range want.Schema {
		g, ok := have[f.Name]
		switch {
		case !ok:
			problems = append(problems, "missing column "+f.Name)
		case g.Type != f.Type || g.Repeated != f.Repeated:
			problems = append(problems, fmt.Sprintf("column %s is %s, want %s", f.Name, describe(g), describe(f)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("schema differs from deploy/bigquery/*.json: %s", strings.Join(problems, "; "))
	}
	return nil
}

func describe(f *bq.FieldSchema) string {
	if f.Repeated {
		return "REPEATED " + string(f.Type)
	}
	return string(f.Type)
}
