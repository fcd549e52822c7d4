package bqfake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	bqv2 "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

var testSchema = []*bqv2.TableFieldSchema{
	{Name: "id", Type: "STRING", Mode: "REQUIRED"},
	{Name: "day", Type: "DATE", Mode: "REQUIRED"},
	{Name: "at", Type: "TIMESTAMP", Mode: "REQUIRED"},
	{Name: "n", Type: "INTEGER", Mode: "REQUIRED"},
	{Name: "x", Type: "FLOAT", Mode: "NULLABLE"},
	{Name: "ok", Type: "BOOLEAN", Mode: "NULLABLE"},
	{Name: "tags", Type: "STRING", Mode: "REPEATED"},
	{Name: "subs", Type: "RECORD", Mode: "REPEATED", Fields: []*bqv2.TableFieldSchema{
		{Name: "k", Type: "STRING", Mode: "REQUIRED"},
		{Name: "t", Type: "TIMESTAMP", Mode: "REQUIRED"},
	}},
}

func TestParseRowsAcceptsBigQueryJSON(t *testing.T) {
	media := `{"id":"a","day":"2026-04-15","at":"2026-04-15T01:02:03.123456Z","n":"9223372036854775807","x":1.5,"ok":true,"tags":["p","q"],"subs":[{"k":"s","t":"2026-04-15 01:02:03+02:00"}]}
{"id":"b","day":"2026-04-16","at":"2026-04-15 00:00:00 UTC","n":42}
`
	rows, reason, msg := parseRows(testSchema, []byte(media), false)
	if reason != "" {
		t.Fatalf("parseRows: %s: %s", reason, msg)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	r := rows[0]
	if r["n"] != int64(9223372036854775807) || r["day"] != (civil.Date{Year: 2026, Month: 4, Day: 15}) || r["x"] != 1.5 || r["ok"] != true {
		t.Errorf("row 0 = %v", r)
	}
	if at := r["at"].(time.Time); !at.Equal(time.Date(2026, 4, 15, 1, 2, 3, 123456000, time.UTC)) {
		t.Errorf("at = %v", at)
	}
	sub := r["subs"].([]any)[0].(map[string]any)
	if st := sub["t"].(time.Time); !st.Equal(time.Date(2026, 4, 14, 23, 2, 3, 0, time.UTC)) {
		t.Errorf("subs.t = %v (offset +02:00 not applied)", st)
	}
	if rows[1]["x"] != nil || len(rows[1]["tags"].([]any)) != 0 {
		t.Errorf("row 1: missing NULLABLE must be nil and missing REPEATED empty: %v", rows[1])
	}
}

func TestParseRowsRejectsLikeBigQuery(t *testing.T) {
	base := `"id":"a","day":"2026-04-15","at":"2026-04-15T00:00:00Z","n":"1"`
	for _, tc := range []struct{ line, want string }{
		{`{` + base + `,"extra":1}`, "No such field: extra."},
		{`{"day":"2026-04-15","at":"2026-04-15T00:00:00Z","n":"1"}`, "Missing required field: id."},
		{`{` + base + `,"ok":null,"tags":null,"x":null}` + "\n" + `{"id":null,"day":"2026-04-15","at":"2026-04-15T00:00:00Z","n":"1"}`, "Only optional fields can be set to NULL. Field: id"},
		{`{"id":"a","day":"2026-04-15","at":"2026-04-15T00:00:00.1234567Z","n":"1"}`, "Could not parse '2026-04-15T00:00:00.1234567Z' as a timestamp"},
		{`{"id":"a","day":"2026-04-15","at":"2026-04-15T00:00:00Z","n":9223372036854775807}`, "Could not convert value '9223372036854775807' to integer"},
		{`{"id":"a","day":"2026-02-30","at":"2026-04-15T00:00:00Z","n":"1"}`, "as date for field day"},
		{`{` + base + `,"tags":"p"}`, "Repeated field must be imported as a JSON array. Field: tags."},
		{`{` + base + `,"subs":[{"k":"s"}]}`, "Missing required field: t."},
		{`[1,2]`, "JSON parsing error in row starting at position 0"},
	} {
		_, reason, msg := parseRows(testSchema, []byte(tc.line), false)
		if reason != "invalid" || !strings.Contains(msg, tc.want) {
			t.Errorf("parseRows(%s) = %q %q, want invalid with %q", tc.line, reason, msg, tc.want)
		}
	}
	// A big integer as a JSON number is rounded like a double.
	rows, reason, _ := parseRows(testSchema, []byte(`{"id":"a","day":"2026-04-15","at":"2026-04-15T00:00:00Z","n":9007199254740993}`), false)
	if reason != "" || rows[0]["n"] != int64(9007199254740992) {
		t.Errorf("n = %v, want 9007199254740992 (rounded as BigQuery does)", rows)
	}
}

func TestRenderRowUsesRESTEncoding(t *testing.T) {
	row := map[string]any{
		"id": "a", "day": civil.Date{Year: 2026, Month: 4, Day: 15},
		"at": time.Date(2026, 4, 15, 0, 0, 0, 500000000, time.UTC), "n": int64(-7), "x": nil, "ok": false,
		"tags": []any{"p"},
		"subs": []any{map[string]any{"k": "s", "t": time.Unix(1, 0).UTC()}},
	}
	for _, tc := range []struct {
		int64TS bool
		want    string
	}{
		{true, `{"f":[{"v":"a"},{"v":"2026-04-15"},{"v":"1776211200500000"},{"v":"-7"},{},{"v":"false"},{"v":[{"v":"p"}]},{"v":[{"v":{"f":[{"v":"s"},{"v":"1000000"}]}}]}]}`},
		{false, `{"f":[{"v":"a"},{"v":"2026-04-15"},{"v":"1.7762112005E9"},{"v":"-7"},{},{"v":"false"},{"v":[{"v":"p"}]},{"v":[{"v":{"f":[{"v":"s"},{"v":"1.0E0"}]}}]}]}`},
	} {
		b, err := json.Marshal(renderRow(testSchema, row, tc.int64TS))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("int64TS=%v:\n got %s\nwant %s", tc.int64TS, b, tc.want)
		}
	}
}

// checkAnswer checks that a request was answered with status and a body
// that contains want.
func checkAnswer(t *testing.T, resp *http.Response, err error, status int, want string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || !strings.Contains(string(body), want) {
		t.Errorf("status %d body %s", resp.StatusCode, body)
	}
}

func TestUnknownRouteIs404WithRoute(t *testing.T) {
	s := New()
	defer s.Close()
	resp, err := http.Get(s.Endpoint() + "projects/p/queries")
	checkAnswer(t, resp, err, 404, "unsupported route GET /bigquery/v2/projects/p/queries")
	if u := s.Unknown(); len(u) != 1 {
		t.Errorf("Unknown() = %v", u)
	}
}

func TestResumableUploadIsRefused(t *testing.T) {
	s := New()
	defer s.Close()
	resp, err := http.Post(s.URL()+"/upload/bigquery/v2/projects/p/jobs?uploadType=resumable", "application/json", strings.NewReader("{}"))
	checkAnswer(t, resp, err, 400, "ChunkSize(0)")
}

func TestLoadDispositionsAndPartitions(t *testing.T) {
	ctx := context.Background()
	s := New()
	defer s.Close()
	s.AddDataset("p", "d")
	c, err := bigquery.NewClient(ctx, "p", option.WithEndpoint(s.Endpoint()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	schema := bigquery.Schema{
		{Name: "id", Type: bigquery.StringFieldType, Required: true},
		{Name: "day", Type: bigquery.DateFieldType, Required: true},
	}
	if err := c.Dataset("d").Table("t").Create(ctx, &bigquery.TableMetadata{
		Schema: schema, TimePartitioning: &bigquery.TimePartitioning{Field: "day"},
	}); err != nil {
		t.Fatal(err)
	}
	load := func(table string, disp bigquery.TableWriteDisposition, ndjson string) error {
		src := bigquery.NewReaderSource(strings.NewReader(ndjson))
		src.SourceFormat = bigquery.JSON
		l := c.Dataset("d").Table(table).LoaderFrom(src)
		l.WriteDisposition = disp
		l.MediaOptions = []googleapi.MediaOption{googleapi.ChunkSize(0)}
		job, err := l.Run(ctx)
		if err != nil {
			return err
		}
		st, err := job.Wait(ctx)
		if err != nil {
			return err
		}
		return st.Err()
	}
	day1, day2 := `{"id":"a","day":"2026-04-15"}`+"\n", `{"id":"b","day":"2026-04-16"}`+"\n"
	if err := load("t", bigquery.WriteAppend, day1+day2); err != nil {
		t.Fatal(err)
	}
	if err := load("t", bigquery.WriteAppend, day1); err != nil {
		t.Fatal(err)
	}
	if n := len(s.RowsInPartition("p", "d", "t", civil.Date{Year: 2026, Month: 4, Day: 15})); n != 2 {
		t.Errorf("WRITE_APPEND: %d rows in 20260415, want 2", n)
	}
	// A row of another day in a decorated load fails the job, changing nothing.
	err = load("t$20260415", bigquery.WriteTruncate, day1+day2)
	if err == nil || !strings.Contains(err.Error(), "Some rows belong to different partitions rather than destination partition 20260415") {
		t.Errorf("decorated load with a foreign row: %v", err)
	}
	if err := load("t$20260415", bigquery.WriteTruncate, ""); err != nil {
		t.Fatal(err)
	}
	if got := s.Partitions("p", "d", "t"); len(got) != 1 || got[0] != "20260416" {
		t.Errorf("after an empty WRITE_TRUNCATE of 20260415: partitions %v, want [20260416]", got)
	}
	if err := load("t", bigquery.WriteTruncate, day1); err != nil {
		t.Fatal(err)
	}
	if rows := s.Rows("p", "d", "t"); len(rows) != 1 || rows[0]["id"] != "a" {
		t.Errorf("WRITE_TRUNCATE of the whole table: rows %v, want only a", rows)
	}
	if u := s.Unknown(); len(u) > 0 {
		t.Errorf("unknown routes: %v", u)
	}
}
