package d1_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/sourcetest"
	"github.com/refrecon/refrecon/sources/referrals"
	"github.com/refrecon/refrecon/sources/referrals/d1"
	"github.com/refrecon/refrecon/sources/referrals/d1/d1fake"
	"github.com/refrecon/refrecon/sources/referrals/referralstest"
	"github.com/refrecon/refrecon/sources/retry"
	"github.com/refrecon/refrecon/sources/retry/retrytest"
)

func newSource(t *testing.T, srv *d1fake.Server, mod ...func(*d1.Config)) (*d1.Source, *retrytest.Waits) {
	t.Helper()
	sl := &retrytest.Waits{}
	cfg := d1.Config{
		AccountID: srv.AccountID, DatabaseID: srv.DatabaseID, Token: srv.Token, BaseURL: srv.URL,
		HTTPClient: srv.Client(), Retry: retry.Policy{Sleep: sl.Sleep},
	}
	for _, m := range mod {
		m(&cfg)
	}
	src, err := d1.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src, sl
}

func TestConformance(t *testing.T) {
	referralstest.Run(t, func(t *testing.T, dbPath string) referralstest.Source {
		src, _ := newSource(t, d1fake.NewServer(t, dbPath))
		return src
	})
}

// specDB builds the SPEC schema with two users and three referrals.
func specDB(t *testing.T) (string, referralstest.Case) {
	t.Helper()
	c := referralstest.Cases()[0]
	path := filepath.Join(t.TempDir(), "referrals.sqlite")
	referralstest.CreateDB(t, path, c.Stmts...)
	return path, c
}

func largeDB(t *testing.T, users, rows, nulls int) (string, referralstest.Case) {
	t.Helper()
	c := referralstest.LargeCase(users, rows, nulls)
	path := filepath.Join(t.TempDir(), "referrals.sqlite")
	referralstest.CreateDB(t, path, c.Stmts...)
	return path, c
}

func read(t *testing.T, src *d1.Source, want referralstest.Case) pipeline.Referrals {
	t.Helper()
	got, err := src.ReadReferrals(context.Background())
	if err != nil {
		t.Fatalf("ReadReferrals: %v", err)
	}
	referralstest.Compare(t, got, want.Want)
	return got
}

func TestPagination(t *testing.T) {
	path, c := largeDB(t, 1200, 3500, 40)
	srv := d1fake.NewServer(t, path)
	src, _ := newSource(t, srv)
	got := read(t, src, c)

	reqs := srv.Requests()
	// users: PRAGMA, COUNT, pages of 1000 and 200, NULL keys, COUNT;
	// referrals: PRAGMA, COUNT, pages of 1000, 1000, 1000 and 500, NULL keys, COUNT.
	if len(reqs) != 6+8 {
		for _, r := range reqs {
			t.Logf("%d %s %v", r.N, r.SQL, r.Params)
		}
		t.Fatalf("%d requests, want 14", len(reqs))
	}
	var pages int
	for _, r := range reqs {
		if strings.Contains(r.SQL, "@") {
			t.Errorf("a value was written into SQL text: %s", r.SQL)
		}
		if strings.Contains(r.SQL, "> ?1") {
			pages++
			if len(r.Params) != 1 {
				t.Errorf("page query with params %v", r.Params)
			}
		}
	}
	if pages != 1+3 {
		t.Errorf("%d pages after the first ones, want 4", pages)
	}
	if n := got.Notes; len(n) != 0 {
		t.Errorf("notes %q for a database that did not change", n)
	}
}

func TestPaginationExactMultiple(t *testing.T) {
	path, c := largeDB(t, 300, 200, 0)
	srv := d1fake.NewServer(t, path)
	src, _ := newSource(t, srv, func(c *d1.Config) { c.PageSize = 100 })
	read(t, src, c)
	// users: PRAGMA, COUNT, 3 full pages and an empty one, NULL, COUNT;
	// referrals: PRAGMA, COUNT, 2 full pages and an empty one, NULL, COUNT.
	if n := len(srv.Requests()); n != 8+7 {
		t.Errorf("%d requests, want 15", n)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	path, c := specDB(t)
	srv := d1fake.NewServer(t, path, d1fake.WithFault(3, d1fake.TooManyRequests("7")))
	src, sl := newSource(t, srv)
	read(t, src, c)
	if got := sl.All(); len(got) != 1 || got[0] != 7*time.Second {
		t.Errorf("waits %v, want [7s]", got)
	}
	reqs := srv.Requests()
	if reqs[2].Status != http.StatusTooManyRequests || reqs[3].SQL != reqs[2].SQL {
		t.Errorf("request 4 does not retry request 3: %+v %+v", reqs[2], reqs[3])
	}
}

func TestRecoversFromServerErrorAndDroppedConnection(t *testing.T) {
	path, c := specDB(t)
	srv := d1fake.NewServer(t, path,
		d1fake.WithFault(3, d1fake.InternalError()),
		d1fake.WithFault(4, d1fake.DropConnection()))
	src, sl := newSource(t, srv, func(c *d1.Config) { c.Retry.Initial = time.Second })
	read(t, src, c)
	got := sl.All()
	if len(got) != 2 {
		t.Fatalf("waits %v, want 2", got)
	}
	// The one policy (sources/retry): intervals 1s then 2s, each wait drawn
	// from [0.5, 1.5] times the interval.
	if got[0] < 500*time.Millisecond || got[0] > 1500*time.Millisecond || got[1] < time.Second || got[1] > 3*time.Second {
		t.Errorf("waits %v, want one in [0.5s,1.5s] then one in [1s,3s]", got)
	}
}

func TestPersistentServerErrorGivesUp(t *testing.T) {
	path, _ := specDB(t)
	srv := d1fake.NewServer(t, path, d1fake.WithFaultFrom(1, d1fake.InternalError()))
	src, sl := newSource(t, srv, func(c *d1.Config) { c.Retry.MaxInterval = 4 * time.Second })
	_, err := src.ReadReferrals(context.Background())
	sourcetest.CheckError(t, err, []string{"HTTP 500", "code 7500: Internal error", "giving up after 7 attempts", "list columns of table users"})
	if n := len(srv.Requests()); n != 7 {
		t.Errorf("%d requests, want 7 (1 + 6 retries)", n)
	}
	if !errors.Is(err, retry.ErrTransient) {
		t.Errorf("error %v is not of class retry.ErrTransient", err)
	}
	waits := sl.All()
	if len(waits) != 6 {
		t.Fatalf("waits %v, want 6", waits)
	}
	for i, w := range waits {
		iv := min(500*time.Millisecond<<i, 4*time.Second)
		if w < iv/2 || w > iv*3/2 {
			t.Errorf("wait %d = %s, want in [%s, %s]", i, w, iv/2, iv*3/2)
		}
	}
}

func TestRetryBudget(t *testing.T) {
	path, _ := specDB(t)
	srv := d1fake.NewServer(t, path, d1fake.WithFault(1, d1fake.TooManyRequests("600")))
	src, sl := newSource(t, srv)
	_, err := src.ReadReferrals(context.Background())
	if err == nil || !strings.Contains(err.Error(), "retry budget") || !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("err = %v, want a 429 beyond the retry budget", err)
	}
	if w := sl.All(); len(w) != 0 {
		t.Errorf("waited %v", w)
	}
}

func TestErrorEnvelopeStopsAtOnce(t *testing.T) {
	path, _ := specDB(t)
	srv := d1fake.NewServer(t, path, d1fake.WithFault(2, d1fake.ErrorEnvelope(7500, "D1_ERROR: too many requests in flight")))
	src, sl := newSource(t, srv)
	_, err := src.ReadReferrals(context.Background())
	var apiErr *d1.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Errors) != 1 || apiErr.Errors[0].Code != 7500 {
		t.Fatalf("err = %#v, want an APIError with code 7500", err)
	}
	if !strings.Contains(err.Error(), "code 7500: D1_ERROR: too many requests in flight") {
		t.Errorf("error %q lacks the API's code and message", err)
	}
	if n := len(srv.Requests()); n != 2 || len(sl.All()) != 0 {
		t.Errorf("%d requests, %d waits; want no retry", n, len(sl.All()))
	}
}

func TestSQLErrorFromTheAPI(t *testing.T) {
	// A real SQL error, answered by the fake as D1 does: a view that the
	// PRAGMA lists but that fails when queried.
	path := filepath.Join(t.TempDir(), "r.sqlite")
	referralstest.CreateDB(t, path,
		referralstest.Stmt{SQL: "CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT)"},
		referralstest.Stmt{SQL: "CREATE TABLE base (x)"},
		referralstest.Stmt{SQL: "CREATE VIEW referrals (email, refcode, referred_at) AS SELECT x, x, x FROM base"},
		referralstest.Stmt{SQL: "DROP TABLE base"})
	srv := d1fake.NewServer(t, path)
	src, _ := newSource(t, srv)
	_, err := src.ReadReferrals(context.Background())
	if err == nil || !strings.Contains(err.Error(), "code 7500") || !strings.Contains(err.Error(), "no such table: main.base") {
		t.Fatalf("err = %v, want the API's SQL error", err)
	}
}

func TestTokenRefused(t *testing.T) {
	path, _ := specDB(t)
	srv := d1fake.NewServer(t, path)
	wrong := "wrong-token-MtJ8sQ2x"
	src, sl := newSource(t, srv, func(c *d1.Config) { c.Token = wrong })
	_, err := src.ReadReferrals(context.Background())
	var apiErr *d1.APIError
	if !errors.As(err, &apiErr) || !apiErr.TokenRefused() || !errors.Is(err, retry.ErrRefused) {
		t.Fatalf("err = %v, want a refused token", err)
	}
	if !strings.Contains(err.Error(), "refused the token (HTTP 401)") || !strings.Contains(err.Error(), "code 10000: Authentication error") {
		t.Errorf("error %q does not say the token was refused", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error %q holds the token", err)
	}
	if n := len(srv.Requests()); n != 1 || len(sl.All()) != 0 {
		t.Errorf("%d requests; want no retry", n)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	path, _ := specDB(t)
	tok := d1fake.Token
	for name, opt := range map[string]d1fake.Option{
		"echoing envelope": d1fake.WithFault(1, d1fake.ErrorEnvelope(9109, "Invalid access token: "+tok)),
		"echoing 403":      d1fake.WithFault(1, d1fake.Fault{Status: 403, Code: 9109, Message: "token " + tok + " lacks D1 read"}),
		"echoing 500":      d1fake.WithFaultFrom(1, d1fake.Fault{Status: 502, Code: 1, Message: "upstream saw Bearer " + tok}),
		"dropped":          d1fake.WithFaultFrom(1, d1fake.DropConnection()),
		"401":              d1fake.WithFault(2, d1fake.Unauthorized()),
	} {
		t.Run(name, func(t *testing.T) {
			srv := d1fake.NewServer(t, path, opt)
			src, _ := newSource(t, srv)
			_, err := src.ReadReferrals(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), tok) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), tok) {
				t.Errorf("error holds the token: %v", err)
			}
		})
	}
	t.Run("config errors", func(t *testing.T) {
		for _, cfg := range []d1.Config{
			{Token: tok},
			{Token: tok, AccountID: "a", DatabaseID: "d", BaseURL: "ftp://x"},
			{Token: tok, AccountID: "a", DatabaseID: "d", BaseURL: "https://user:" + tok + "@example.com/"},
			{Token: tok + "\n", AccountID: "a", DatabaseID: "d"},
		} {
			_, err := d1.New(cfg)
			if err == nil {
				t.Errorf("New(%v...): no error", cfg.BaseURL)
				continue
			}
			if strings.Contains(err.Error(), tok) {
				t.Errorf("config error holds the token: %v", err)
			}
		}
	})
}

func TestSchemaDrift(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.sqlite")
	referralstest.CreateDB(t, path,
		referralstest.Stmt{SQL: "CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT, extra TEXT)"},
		referralstest.Stmt{SQL: "CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT, selected_plan TEXT)"})
	srv := d1fake.NewServer(t, path)
	src, _ := newSource(t, srv)
	_, err := src.ReadReferrals(context.Background())
	var se *referrals.SchemaError
	if !errors.As(err, &se) || se.Table != "referrals" || se.Column != "referred_at" {
		t.Fatalf("err = %v, want a SchemaError for referrals.referred_at", err)
	}
	want := "referrals source d1 (database " + d1fake.DatabaseID + `): table referrals has no column "referred_at"`
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestRowidKey(t *testing.T) {
	// No primary key on referrals: paging falls back to the rowid.
	path := filepath.Join(t.TempDir(), "r.sqlite")
	stmts := []referralstest.Stmt{
		{SQL: "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, refcode TEXT)"},
		{SQL: "CREATE TABLE referrals (email TEXT, refcode TEXT, referred_at DATETIME, rewarded BOOLEAN)"},
	}
	var want pipeline.Referrals
	for i := range 25 {
		e := "dup@example.com" // the same email on every row: only the rowid orders them
		stmts = append(stmts, referralstest.Insert("referrals", []string{"email", "refcode", "referred_at", "rewarded"}, e, "R", fmt.Sprintf("2024-01-01 00:00:%02d", i), "false"))
		want.Rows = append(want.Rows, pipeline.ReferralRow{Email: e, Refcode: "R", ReferredAt: fmt.Sprintf("2024-01-01 00:00:%02d", i)})
	}
	stmts = append(stmts, referralstest.Insert("users", []string{"email", "refcode"}, "r@example.com", "R"))
	want.Users = []pipeline.User{{Email: "r@example.com", Refcode: "R"}}
	referralstest.CreateDB(t, path, stmts...)
	srv := d1fake.NewServer(t, path)
	src, _ := newSource(t, srv, func(c *d1.Config) { c.PageSize = 10 })
	read(t, src, referralstest.Case{Want: want})
	for _, r := range srv.Requests() {
		if strings.Contains(r.SQL, "IS NULL") {
			t.Errorf("a NULL-key query for a rowid key: %s", r.SQL)
		}
	}
}

func TestCancellationStopsPromptly(t *testing.T) {
	path, _ := specDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := d1fake.NewServer(t, path,
		d1fake.WithFault(3, d1fake.TooManyRequests("90")),
		d1fake.OnRequest(func(n int, _ string, _ *sql.DB) {
			if n == 3 {
				cancel()
			}
		}))
	// The real sleep: a 90 s wait that only the cancellation can end.
	src, err := d1.New(d1.Config{AccountID: srv.AccountID, DatabaseID: srv.DatabaseID, Token: srv.Token, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.ReadReferrals(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests after cancellation, want 3", n)
	}
}

func TestCountsChangingGiveANote(t *testing.T) {
	path, c := specDB(t)
	var counts atomic.Int32
	srv := d1fake.NewServer(t, path, d1fake.OnRequest(func(n int, q string, db *sql.DB) {
		// Before the second count of users, a new referrer signs up.
		if strings.HasPrefix(q, "SELECT COUNT(*)") && strings.Contains(q, `"users"`) && counts.Add(1) == 2 {
			if _, err := db.Exec(`INSERT INTO users VALUES ('late@example.com', 'LATE')`); err != nil {
				t.Error(err)
			}
		}
	}))
	src, _ := newSource(t, srv)
	notes := read(t, src, c).Notes // the rows as read: without the late user
	if len(notes) != 1 || !strings.Contains(notes[0], "table users changed while it was read: 2 rows counted before paging, 2 read, 3 counted after") {
		t.Errorf("notes %q", notes)
	}
	// A second read of the now stable database has no notes.
	again, err := src.ReadReferrals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := again.Notes; len(n) != 0 {
		t.Errorf("notes after a stable read: %q", n)
	}
}

func TestRepeatedPageIsAnError(t *testing.T) {
	path, _ := largeDB(t, 5, 0, 0)
	// PRAGMA, COUNT, page 1, page 2 answered with page 1 again.
	srv := d1fake.NewServer(t, path, d1fake.WithFault(4, d1fake.RepeatPreviousPage()))
	src, _ := newSource(t, srv, func(c *d1.Config) { c.PageSize = 2 })
	_, err := src.ReadReferrals(context.Background())
	if err == nil || !strings.Contains(err.Error(), "read table users, page 2") || !strings.Contains(err.Error(), "repeated or out of order") {
		t.Fatalf("err = %v, want a repeated-page error", err)
	}
}

// Keys declared COLLATE NOCASE or RTRIM come in the database's order for
// the collation (referralstest covers NOCASE across pages); the collation is
// looked up once per table, and a repeated page is still an error.
func TestKeyCollations(t *testing.T) {
	for _, tc := range []struct {
		coll   string
		emails []string
	}{
		{"NOCASE", []string{"b@x", "A@x", "c@x", "B2@x", "a2@x", "Z@x"}},
		// "a@x  " sorts after "a@x\x01" bytewise, before it trimmed.
		{"RTRIM", []string{"b@x", "a@x  ", "a@x\x01", "c@x"}},
	} {
		t.Run(tc.coll, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.sqlite")
			stmts := []referralstest.Stmt{{SQL: `CREATE TABLE users (email TEXT PRIMARY KEY COLLATE ` + tc.coll + `, refcode TEXT);
CREATE TABLE referrals (email TEXT PRIMARY KEY COLLATE ` + tc.coll + `, refcode TEXT, referred_at DATETIME)`}}
			var want pipeline.Referrals
			for i, e := range tc.emails {
				code := fmt.Sprint("R", i)
				stmts = append(stmts, referralstest.Insert("users", []string{"email", "refcode"}, e, code))
				want.Users = append(want.Users, pipeline.User{Email: e, Refcode: code})
			}
			referralstest.CreateDB(t, path, stmts...)
			srv := d1fake.NewServer(t, path)
			src, _ := newSource(t, srv, func(c *d1.Config) { c.PageSize = 2 })
			read(t, src, referralstest.Case{Want: want})
			lookups := 0
			for _, r := range srv.Requests() {
				if strings.HasPrefix(r.SQL, "PRAGMA index_xinfo") {
					lookups++
				}
			}
			if lookups != 1 {
				t.Errorf("%d collation lookups, want 1 (users; referrals is empty)", lookups)
			}

			// PRAGMA, COUNT, page 1, page 2 answered with page 1 again.
			srv = d1fake.NewServer(t, path, d1fake.WithFault(4, d1fake.RepeatPreviousPage()))
			src, _ = newSource(t, srv, func(c *d1.Config) { c.PageSize = 2 })
			_, err := src.ReadReferrals(context.Background())
			if err == nil || !strings.Contains(err.Error(), "repeated or out of order") {
				t.Fatalf("err = %v, want a repeated-page error", err)
			}
		})
	}
}

func TestMalformedEnvelopes(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":           `<html>oops</html>`,
		"no success":         `{"result":[{"results":[],"success":true}],"errors":[]}`,
		"no result":          `{"success":true,"result":[],"errors":[]}`,
		"no results":         `{"success":true,"result":[{"success":true,"meta":{}}]}`,
		"statement failed":   `{"success":true,"result":[{"results":[],"success":false}]}`,
		"row not an object":  `{"success":true,"result":[{"results":[1],"success":true}]}`,
		"object value":       `{"success":true,"result":[{"results":[{"name":{"a":1}}],"success":true}]}`,
		"trailing data":      `{"success":true,"result":[{"results":[],"success":true}]} {}`,
		"success not a bool": `{"success":"yes","result":[{"results":[],"success":true}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.Write([]byte(body)) //nolint:errcheck
			}))
			defer srv.Close()
			src, err := d1.New(d1.Config{AccountID: "a", DatabaseID: "d", Token: "t", BaseURL: srv.URL, Retry: retry.Policy{Sleep: (&retrytest.Waits{}).Sleep}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.ReadReferrals(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1 (no retry of a malformed answer)", n.Load())
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body = make([]byte, r.ContentLength)
		r.Body.Read(body) //nolint:errcheck
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	src, err := d1.New(d1.Config{AccountID: "acc/1", DatabaseID: "db 2", Token: "tok", BaseURL: srv.URL + "/client/v4/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.ReadReferrals(context.Background()); err == nil {
		t.Fatal("no error")
	}
	if got.Method != http.MethodPost || got.URL.EscapedPath() != "/client/v4/accounts/acc%2F1/d1/database/db%202/query" {
		t.Errorf("%s %s", got.Method, got.URL.EscapedPath())
	}
	if got.Header.Get("Authorization") != "Bearer tok" || got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", got.Header)
	}
	if string(body) != `{"sql":"PRAGMA table_info(\"users\")","params":[]}` {
		t.Errorf("body %s", body)
	}
}
