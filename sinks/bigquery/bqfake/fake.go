// Package bqfake is an in-memory fake of the part of BigQuery's REST API
// (v2) that the official Go client (cloud.google.com/go/bigquery) uses to
// create tables, run load jobs from uploaded newline-delimited JSON and read
// table data back. It exists so that sinks/bigquery can be tested with the
// real client: point the client at Server.Endpoint() with
// option.WithEndpoint and option.WithoutAuthentication.
//
// Served calls (every other route answers 404 with a body naming the route,
// and is recorded by Unknown):
//
//	GET  /bigquery/v2/projects/{p}/datasets/{d}                    datasets.get
//	POST /bigquery/v2/projects/{p}/datasets                        datasets.insert
//	GET  /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}         tables.get (t may carry a $YYYYMMDD decorator)
//	POST /bigquery/v2/projects/{p}/datasets/{d}/tables             tables.insert
//	GET  /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}/data    tabledata.list
//	POST /upload/bigquery/v2/projects/{p}/jobs?uploadType=multipart jobs.insert (load with media)
//	GET  /bigquery/v2/projects/{p}/jobs/{j}                        jobs.get
//
// Load jobs run synchronously and are DONE when jobs.insert answers. Rows
// are validated against the table schema the way BigQuery does (unknown
// field, missing required field, unparsable value, row outside the
// destination partition), and a bad row fails the whole job without changing
// the table. Rows are kept per table and per partition (the value of the
// day-partitioning column); WRITE_TRUNCATE on table$YYYYMMDD replaces one
// partition, WRITE_TRUNCATE on the bare table replaces the table,
// WRITE_APPEND (the default) appends.
//
// Fault injection: FailNextJobs makes load jobs finish with an errorResult,
// FailNextUploads makes uploads answer with an HTTP error status (and
// FailNextUploadsWith reset the connection or cut the answer short). Requests
// counts the calls per method name.
package bqfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/civil"
	bqv2 "google.golang.org/api/bigquery/v2"

	"github.com/refrecon/refrecon/sources/retry/retrytest"
)

// DefaultLocation is the location given to datasets and jobs that name none.
const DefaultLocation = "US"

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu          sync.Mutex
	datasets    map[string]*bqv2.Dataset // key: project:dataset
	tables      map[string]*table        // key: project:dataset.table
	jobs        map[string]*bqv2.Job     // key: project:job
	jobOrder    []string
	requests    map[string]int
	unknown     []string
	jobFaults   []JobFault
	uploadFault []UploadFault
	pageSize    int
	nextJob     int
}

// UploadFault is how one load upload (jobs.insert) fails.
type UploadFault struct {
	Status int // answer this HTTP status (e.g. 429, 503) without creating a job
	// Reset closes the connection without an answer; no job is created.
	Reset bool
	// Truncate runs the job, then sends only the first half of the answer's
	// body (with the full Content-Length) and closes the connection: the job
	// exists but the client never learns it.
	Truncate bool
}

// JobFault is the error a failed load job reports (its status.errorResult).
type JobFault struct {
	Reason  string // e.g. "invalid", "backendError"
	Message string
}

type table struct {
	meta *bqv2.Table
	// partitions maps the partition id (YYYYMMDD, or "" for an unpartitioned
	// table) to its rows, in load order.
	partitions map[string][]map[string]any
}

// New starts a fake server. Close it when done (t.Cleanup(s.Close)).
func New() *Server {
	s := &Server{
		datasets: map[string]*bqv2.Dataset{},
		tables:   map[string]*table{},
		jobs:     map[string]*bqv2.Job{},
		requests: map[string]int{},
	}
	mux := http.NewServeMux()
	const v2 = "/bigquery/v2/projects/{p}"
	mux.HandleFunc("GET "+v2+"/datasets/{d}", s.route("datasets.get", s.getDataset))
	mux.HandleFunc("POST "+v2+"/datasets", s.route("datasets.insert", s.insertDataset))
	mux.HandleFunc("GET "+v2+"/datasets/{d}/tables/{t}", s.route("tables.get", s.getTable))
	mux.HandleFunc("POST "+v2+"/datasets/{d}/tables", s.route("tables.insert", s.insertTable))
	mux.HandleFunc("GET "+v2+"/datasets/{d}/tables/{t}/data", s.route("tabledata.list", s.listTableData))
	mux.HandleFunc("POST /upload/bigquery/v2/projects/{p}/jobs", s.route("jobs.insert", s.insertJob))
	mux.HandleFunc("GET "+v2+"/jobs/{j}", s.route("jobs.get", s.getJob))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		route := r.Method + " " + r.URL.Path
		s.mu.Lock()
		s.unknown = append(s.unknown, route)
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "notFound", "bqfake: unsupported route "+route)
	})
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the server's root URL (scheme://host:port).
func (s *Server) URL() string { return s.srv.URL }

// Endpoint is the value for option.WithEndpoint: the URL of the REST API's
// base path (URL + "/bigquery/v2/").
func (s *Server) Endpoint() string { return s.srv.URL + "/bigquery/v2/" }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SetPageSize sets the number of rows tabledata.list returns per page when
// the request names no maxResults (default: all rows in one page).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// FailNextJobs makes the next n load jobs finish (DONE) with f as their
// errorResult, leaving the destination untouched.
func (s *Server) FailNextJobs(n int, f JobFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.jobFaults = append(s.jobFaults, f)
	}
}

// FailNextUploads makes the next n load uploads answer with HTTP status
// (e.g. 503) without creating a job.
func (s *Server) FailNextUploads(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.uploadFault = append(s.uploadFault, UploadFault{Status: status})
	}
}

// FailNextUploadsWith makes the next n load uploads fail as f says.
func (s *Server) FailNextUploadsWith(n int, f UploadFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.uploadFault = append(s.uploadFault, f)
	}
}

// Requests reports how many requests the named method received, failed ones
// included ("datasets.get", "datasets.insert", "tables.get",
// "tables.insert", "tabledata.list", "jobs.insert", "jobs.get").
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

// Unknown lists the requests that matched no served route ("METHOD /path").
func (s *Server) Unknown() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unknown...)
}

// Jobs returns copies of every job received by jobs.insert (failed ones
// included), in arrival order.
func (s *Server) Jobs() []*bqv2.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*bqv2.Job, 0, len(s.jobOrder))
	for _, k := range s.jobOrder {
		j := *s.jobs[k]
		out = append(out, &j)
	}
	return out
}

// AddDataset creates a dataset directly (as an administrator would).
func (s *Server) AddDataset(project, dataset string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.datasets[project+":"+dataset] = &bqv2.Dataset{
		Kind:             "bigquery#dataset",
		Id:               project + ":" + dataset,
		DatasetReference: &bqv2.DatasetReference{ProjectId: project, DatasetId: dataset},
		Location:         DefaultLocation,
	}
}

// Table returns a copy of a table's metadata (schema, partitioning,
// clustering) as tables.get would, and whether the table exists.
func (s *Server) Table(project, dataset, tableID string) (*bqv2.Table, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[tableKey(project, dataset, tableID)]
	if !ok {
		return nil, false
	}
	return s.tableResource(t, ""), true
}

// Rows returns every stored row of a table, partitions in ascending order,
// rows of a partition in load order. Values are typed: STRING string,
// INTEGER int64, FLOAT float64, BOOLEAN bool, TIMESTAMP time.Time (UTC),
// DATE civil.Date, RECORD map[string]any, REPEATED []any, NULL nil.
func (s *Server) Rows(project, dataset, tableID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[tableKey(project, dataset, tableID)]
	if !ok {
		return nil
	}
	var out []map[string]any
	for _, id := range sortedKeys(t.partitions) {
		out = append(out, t.partitions[id]...)
	}
	return out
}

// RowsInPartition returns the rows of one day partition of a table.
func (s *Server) RowsInPartition(project, dataset, tableID string, day civil.Date) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[tableKey(project, dataset, tableID)]
	if !ok {
		return nil
	}
	return append([]map[string]any(nil), t.partitions[partitionID(day)]...)
}

// Partitions lists the partition ids (YYYYMMDD) of a table that hold rows.
func (s *Server) Partitions(project, dataset, tableID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[tableKey(project, dataset, tableID)]
	if !ok {
		return nil
	}
	var ids []string
	for _, id := range sortedKeys(t.partitions) {
		if len(t.partitions[id]) > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// lookup finds key in m; when it is missing it answers BigQuery's 404,
// "Not found: <kind> <key>" (keys are written the way BigQuery names
// datasets, tables and jobs).
func lookup[V any](w http.ResponseWriter, m map[string]V, kind, key string) (V, bool) {
	v, ok := m[key]
	if !ok {
		writeError(w, http.StatusNotFound, "notFound", "Not found: "+kind+" "+key)
	}
	return v, ok
}

func (s *Server) route(method string, h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[method]++
		s.mu.Unlock()
		h(w, r)
	}
}

// --- datasets ---

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ds, ok := lookup(w, s.datasets, "Dataset", r.PathValue("p")+":"+r.PathValue("d"))
	s.mu.Unlock()
	if ok {
		writeJSON(w, ds)
	}
}

func (s *Server) insertDataset(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("p")
	var ds bqv2.Dataset
	if err := json.NewDecoder(r.Body).Decode(&ds); err != nil || ds.DatasetReference == nil || ds.DatasetReference.DatasetId == "" {
		writeError(w, http.StatusBadRequest, "invalid", "bqfake: datasets.insert needs a datasetReference")
		return
	}
	d := ds.DatasetReference.DatasetId
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.datasets[p+":"+d]; ok {
		writeError(w, http.StatusConflict, "duplicate", fmt.Sprintf("Already Exists: Dataset %s:%s", p, d))
		return
	}
	ds.Kind = "bigquery#dataset"
	ds.Id = p + ":" + d
	ds.DatasetReference.ProjectId = p
	if ds.Location == "" {
		ds.Location = DefaultLocation
	}
	s.datasets[p+":"+d] = &ds
	writeJSON(w, &ds)
}

// --- tables ---

func tableKey(p, d, t string) string { return p + ":" + d + "." + t }

// splitDecorator splits "name$20240102" into name and partition id.
func splitDecorator(id string) (name, partition string, decorated bool) {
	name, partition, decorated = strings.Cut(id, "$")
	return name, partition, decorated
}

// requestedTable finds the table (and partition, with a $ decorator) that
// r's path names; when there is none it answers 404, or 400 for a bad
// partition id, and returns ok false. s.mu must be held.
func (s *Server) requestedTable(w http.ResponseWriter, r *http.Request) (t *table, part string, decorated, ok bool) {
	p, d := r.PathValue("p"), r.PathValue("d")
	name, part, decorated := splitDecorator(r.PathValue("t"))
	if t, ok = lookup(w, s.tables, "Table", tableKey(p, d, name)); !ok {
		return nil, "", false, false
	}
	if decorated {
		if msg := checkPartitionID(t, part); msg != "" {
			writeError(w, http.StatusBadRequest, "invalid", msg)
			return nil, "", false, false
		}
	}
	return t, part, decorated, true
}

func (s *Server) getTable(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, part, _, ok := s.requestedTable(w, r)
	if !ok {
		return
	}
	writeJSON(w, s.tableResource(t, part))
}

// tableResource renders a table's metadata; with a partition id, the
// counts are the partition's.
func (s *Server) tableResource(t *table, partition string) *bqv2.Table {
	out := *t.meta
	var n int
	if partition != "" {
		n = len(t.partitions[partition])
	} else {
		for _, rows := range t.partitions {
			n += len(rows)
		}
	}
	out.NumRows = uint64(n)
	out.ForceSendFields = []string{"NumRows"}
	return &out
}

func (s *Server) insertTable(w http.ResponseWriter, r *http.Request) {
	p, d := r.PathValue("p"), r.PathValue("d")
	var t bqv2.Table
	if err := json.NewDecoder(r.Body).Decode(&t); err != nil || t.TableReference == nil || t.TableReference.TableId == "" {
		writeError(w, http.StatusBadRequest, "invalid", "bqfake: tables.insert needs a tableReference")
		return
	}
	name := t.TableReference.TableId
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, ok := lookup(w, s.datasets, "Dataset", p+":"+d)
	if !ok {
		return
	}
	if _, ok := s.tables[tableKey(p, d, name)]; ok {
		writeError(w, http.StatusConflict, "duplicate", fmt.Sprintf("Already Exists: Table %s:%s.%s", p, d, name))
		return
	}
	if msg := validateTable(&t); msg != "" {
		writeError(w, http.StatusBadRequest, "invalid", msg)
		return
	}
	t.Kind = "bigquery#table"
	t.Id = tableKey(p, d, name)
	t.TableReference.ProjectId, t.TableReference.DatasetId = p, d
	t.Type = "TABLE"
	t.Location = ds.Location
	s.tables[t.Id] = &table{meta: &t, partitions: map[string][]map[string]any{}}
	writeJSON(w, s.tableResource(s.tables[t.Id], ""))
}

// validateTable checks what BigQuery checks for the features the fake
// supports: a schema, a DATE/TIMESTAMP top-level partitioning column (DAY),
// clustering on at most four top-level, non-repeated columns.
func validateTable(t *bqv2.Table) string {
	if t.Schema == nil || len(t.Schema.Fields) == 0 {
		return "bqfake: tables.insert without a schema is not supported"
	}
	top := map[string]*bqv2.TableFieldSchema{}
	for _, f := range t.Schema.Fields {
		top[f.Name] = f
	}
	if tp := t.TimePartitioning; tp != nil {
		if tp.Type != "DAY" {
			return fmt.Sprintf("bqfake: time partitioning type %q is not supported (only DAY)", tp.Type)
		}
		if tp.Field == "" {
			return "bqfake: ingestion-time partitioning is not supported"
		}
		f, ok := top[tp.Field]
		if !ok {
			return fmt.Sprintf("The field specified for partitioning cannot be found in the schema: %s", tp.Field)
		}
		if (f.Type != "DATE" && f.Type != "TIMESTAMP") || f.Mode == "REPEATED" {
			return fmt.Sprintf("The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: %s", f.Type)
		}
	}
	if c := t.Clustering; c != nil {
		if len(c.Fields) > 4 {
			return "Too many clustering fields: at most 4 are allowed"
		}
		for _, name := range c.Fields {
			f, ok := top[name]
			if !ok {
				return fmt.Sprintf("The field specified for clustering cannot be found in the schema: %s", name)
			}
			if f.Mode == "REPEATED" || f.Type == "RECORD" || f.Type == "FLOAT" {
				return fmt.Sprintf("Field %s is of type %s %s which is not supported for clustering", name, f.Mode, f.Type)
			}
		}
	}
	return ""
}

func checkPartitionID(t *table, id string) string {
	if t.meta.TimePartitioning == nil {
		return fmt.Sprintf("Cannot read partition information from a table that is not partitioned: %s", t.meta.Id)
	}
	if _, err := parsePartitionID(id); err != nil {
		return fmt.Sprintf("Invalid partition decorator: %s$%s", t.meta.TableReference.TableId, id)
	}
	return ""
}

func parsePartitionID(id string) (civil.Date, error) {
	if len(id) != 8 {
		return civil.Date{}, errors.New("not YYYYMMDD")
	}
	tm, err := time.Parse("20060102", id)
	if err != nil {
		return civil.Date{}, err
	}
	return civil.DateOf(tm), nil
}

func partitionID(d civil.Date) string {
	return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
}

// --- tabledata.list ---

func (s *Server) listTableData(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, part, decorated, ok := s.requestedTable(w, r)
	if !ok {
		return
	}
	var rows []map[string]any
	if decorated {
		rows = t.partitions[part]
	} else {
		for _, id := range sortedKeys(t.partitions) {
			rows = append(rows, t.partitions[id]...)
		}
	}

	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "row-"))
		if !strings.HasPrefix(tok, "row-") || err != nil || n < 0 || n > len(rows) {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid page token: "+tok)
			return
		}
		start = n
	} else if si := q.Get("startIndex"); si != "" {
		n, err := strconv.Atoi(si)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid startIndex: "+si)
			return
		}
		start = min(n, len(rows))
	}
	size := len(rows) - start
	if s.pageSize > 0 {
		size = min(size, s.pageSize)
	}
	if mr := q.Get("maxResults"); mr != "" {
		n, err := strconv.Atoi(mr)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid maxResults: "+mr)
			return
		}
		size = min(size, n)
	}
	int64TS := q.Get("formatOptions.useInt64Timestamp") == "true"
	out := &bqv2.TableDataList{Kind: "bigquery#tableDataList", TotalRows: int64(len(rows)), ForceSendFields: []string{"TotalRows"}}
	for _, row := range rows[start : start+size] {
		out.Rows = append(out.Rows, renderRow(t.meta.Schema.Fields, row, int64TS))
	}
	if start+size < len(rows) {
		out.PageToken = "row-" + strconv.Itoa(start+size)
	}
	out.Etag = strconv.Itoa(len(rows))
	writeJSON(w, out)
}

// --- jobs ---

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	p, j := r.PathValue("p"), r.PathValue("j")
	s.mu.Lock()
	job, ok := lookup(w, s.jobs, "Job", p+":"+j)
	s.mu.Unlock()
	if !ok {
		return
	}
	if loc := r.URL.Query().Get("location"); loc != "" && !strings.EqualFold(loc, job.JobReference.Location) {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: Job %s:%s.%s", p, loc, j))
		return
	}
	writeJSON(w, job)
}

func (s *Server) insertJob(w http.ResponseWriter, r *http.Request) {
	if ut := r.URL.Query().Get("uploadType"); ut != "multipart" {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("bqfake: uploadType %q is not supported (only multipart: set googleapi.ChunkSize(0))", ut))
		return
	}
	s.mu.Lock()
	var fault UploadFault
	if len(s.uploadFault) > 0 {
		fault = s.uploadFault[0]
		s.uploadFault = s.uploadFault[1:]
	}
	s.mu.Unlock()
	switch {
	case fault.Reset:
		_, _ = io.Copy(io.Discard, r.Body)
		retrytest.Drop(w, retrytest.FIN)
		return
	case fault.Status != 0:
		_, _ = io.Copy(io.Discard, r.Body)
		reason := "backendError"
		if fault.Status == http.StatusTooManyRequests {
			reason = "rateLimitExceeded"
		}
		writeError(w, fault.Status, reason, "bqfake: injected upload failure")
		return
	case fault.Truncate:
		retrytest.CutInHalf(w, r, s.insertJobNow, retrytest.FIN)
		return
	}
	s.insertJobNow(w, r)
}

func (s *Server) insertJobNow(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("p")

	job, media, err := readMultipart(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "bqfake: "+err.Error())
		return
	}
	if job.Configuration == nil || job.Configuration.Load == nil {
		writeError(w, http.StatusBadRequest, "invalid", "bqfake: only load jobs are supported")
		return
	}
	if job.JobReference == nil {
		job.JobReference = &bqv2.JobReference{}
	}
	ref := job.JobReference
	ref.ProjectId = p
	if ref.Location == "" {
		ref.Location = DefaultLocation
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ref.JobId == "" {
		s.nextJob++
		ref.JobId = fmt.Sprintf("bqfake_job_%d", s.nextJob)
	}
	if _, ok := s.jobs[p+":"+ref.JobId]; ok {
		writeError(w, http.StatusConflict, "duplicate", fmt.Sprintf("Already Exists: Job %s:%s.%s", p, ref.Location, ref.JobId))
		return
	}
	job.Kind = "bigquery#job"
	job.Id = p + ":" + ref.Location + "." + ref.JobId
	job.Status = &bqv2.JobStatus{State: "DONE"}
	job.Statistics = &bqv2.JobStatistics{Load: &bqv2.JobStatistics3{}}
	if len(s.jobFaults) > 0 {
		f := s.jobFaults[0]
		s.jobFaults = s.jobFaults[1:]
		failJob(job, f.Reason, f.Message)
	} else if n, reason, msg := s.load(job.Configuration.Load, media); reason != "" {
		failJob(job, reason, msg)
	} else {
		job.Statistics.Load.OutputRows = int64(n)
		job.Statistics.Load.InputFiles = 1
		job.Statistics.Load.InputFileBytes = int64(len(media))
	}
	s.jobs[p+":"+ref.JobId] = job
	s.jobOrder = append(s.jobOrder, p+":"+ref.JobId)
	writeJSON(w, job)
}

func failJob(job *bqv2.Job, reason, msg string) {
	e := &bqv2.ErrorProto{Reason: reason, Message: msg}
	job.Status.ErrorResult = e
	job.Status.Errors = []*bqv2.ErrorProto{e}
}

// readMultipart splits a multipart/related upload into the job resource
// (first part, JSON) and the media (second part).
func readMultipart(r *http.Request) (*bqv2.Job, []byte, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/related" {
		return nil, nil, fmt.Errorf("upload Content-Type %q is not multipart/related", r.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	first, err := mr.NextPart()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the metadata part: %w", err)
	}
	var job bqv2.Job
	if err := json.NewDecoder(first).Decode(&job); err != nil {
		return nil, nil, fmt.Errorf("decoding the job resource: %w", err)
	}
	second, err := mr.NextPart()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the media part: %w", err)
	}
	media, err := io.ReadAll(second)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the media part: %w", err)
	}
	if _, err := mr.NextPart(); err != io.EOF {
		return nil, nil, errors.New("more than two parts in the upload")
	}
	return &job, media, nil
}

// load applies a load configuration; it returns the number of rows written
// or a BigQuery error reason and message (and then changes nothing).
// The caller holds s.mu.
func (s *Server) load(cfg *bqv2.JobConfigurationLoad, media []byte) (int, string, string) {
	dst := cfg.DestinationTable
	if dst == nil || dst.TableId == "" {
		return 0, "invalid", "Load configuration must specify destination table"
	}
	p, d := dst.ProjectId, dst.DatasetId
	name, part, decorated := splitDecorator(dst.TableId)
	if cfg.SourceFormat != "NEWLINE_DELIMITED_JSON" {
		return 0, "invalid", fmt.Sprintf("bqfake: source format %q is not supported", cfg.SourceFormat)
	}
	if _, ok := s.datasets[p+":"+d]; !ok {
		return 0, "notFound", fmt.Sprintf("Not found: Dataset %s:%s", p, d)
	}
	t, ok := s.tables[tableKey(p, d, name)]
	created := false
	if !ok {
		if cfg.CreateDisposition == "CREATE_NEVER" || cfg.Schema == nil {
			return 0, "notFound", fmt.Sprintf("Not found: Table %s:%s.%s", p, d, name)
		}
		meta := &bqv2.Table{
			Kind: "bigquery#table", Id: tableKey(p, d, name), Type: "TABLE",
			TableReference:   &bqv2.TableReference{ProjectId: p, DatasetId: d, TableId: name},
			Schema:           cfg.Schema,
			TimePartitioning: cfg.TimePartitioning,
			Clustering:       cfg.Clustering,
		}
		if msg := validateTable(meta); msg != "" {
			return 0, "invalid", msg
		}
		t = &table{meta: meta, partitions: map[string][]map[string]any{}}
		created = true
	}
	if decorated {
		if msg := checkPartitionID(t, part); msg != "" {
			return 0, "invalid", msg
		}
	}

	rows, reason, msg := parseRows(t.meta.Schema.Fields, media, cfg.IgnoreUnknownValues)
	if reason != "" {
		return 0, reason, msg
	}
	// Place every row in its partition.
	byPart := map[string][]map[string]any{}
	for i, row := range rows {
		id, reason, msg := rowPartition(t, row, i)
		if reason != "" {
			return 0, reason, msg
		}
		if decorated && id != part {
			return 0, "invalid", fmt.Sprintf("Some rows belong to different partitions rather than destination partition %s", part)
		}
		byPart[id] = append(byPart[id], row)
	}

	disp := cfg.WriteDisposition
	if disp == "" {
		disp = "WRITE_APPEND"
	}
	switch disp {
	case "WRITE_TRUNCATE":
		if decorated {
			t.partitions[part] = nil
		} else {
			t.partitions = map[string][]map[string]any{}
		}
	case "WRITE_EMPTY":
		var n int
		if decorated {
			n = len(t.partitions[part])
		} else {
			for _, r := range t.partitions {
				n += len(r)
			}
		}
		if n > 0 {
			return 0, "duplicate", fmt.Sprintf("Already Exists: Table %s", tableKey(p, d, dst.TableId))
		}
	case "WRITE_APPEND":
	default:
		return 0, "invalid", fmt.Sprintf("Invalid write disposition: %s", disp)
	}
	for id, r := range byPart {
		t.partitions[id] = append(t.partitions[id], r...)
	}
	if decorated && len(t.partitions[part]) == 0 {
		delete(t.partitions, part)
	}
	if created {
		s.tables[t.meta.Id] = t
	}
	return len(rows), "", ""
}

// rowPartition is the partition id of a row: the UTC day of its
// partitioning column, or "" for an unpartitioned table.
func rowPartition(t *table, row map[string]any, i int) (string, string, string) {
	tp := t.meta.TimePartitioning
	if tp == nil {
		return "", "", ""
	}
	switch v := row[tp.Field].(type) {
	case civil.Date:
		return partitionID(v), "", ""
	case time.Time:
		return partitionID(civil.DateOf(v.UTC())), "", ""
	case nil:
		return "__NULL__", "", ""
	default:
		return "", "invalid", fmt.Sprintf("row %d: partitioning column %s has an unexpected value %v", i, tp.Field, v)
	}
}

// --- responses ---

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in Google's JSON error envelope, which the client turns
// into a *googleapi.Error.
func writeError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": msg,
			"errors":  []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
			"status":  http.StatusText(code),
		},
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
