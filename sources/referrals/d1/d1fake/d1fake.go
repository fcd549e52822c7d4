// Package d1fake is a fake Cloudflare D1 HTTP API for tests: an httptest
// server that answers POST {URL}/accounts/{account}/d1/database/{db}/query
// by running the posted SQL, with its params, on a real SQLite file, and
// answers in D1's envelope ({"success":true,"result":[{"results":[...],
// "success":true,"meta":{...}}],"errors":[],"messages":[]}) with D1's value
// rendering: text as strings, numbers as numbers (so BOOLEAN as 0/1), BLOBs as
// arrays of bytes, DATETIME text untouched.
//
// SELECT (and WITH) statements run on a read-only handle on the file;
// UPDATE, INSERT and DELETE run on a writable one (refrecon writes only in
// `settle apply`), and the envelope's meta.changes is the number of rows
// the statement changed. WithWriteToken makes writes need a separate token
// (reads accept either), as a least-privilege D1 token setup would. Faults can be injected per request (429 with Retry-After, 5xx,
// an error envelope, 401, a repeated page, a dropped connection, a body cut
// short), and a hook
// sees every request before it is answered, with a writable handle on the
// file, to change the data mid-read.
package d1fake

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/refrecon/refrecon/sources/referrals"
	"github.com/refrecon/refrecon/sources/retry/retrytest"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Identifiers the server expects unless options say otherwise.
const (
	AccountID  = "0123456789abcdef0123456789abcdef"
	DatabaseID = "4f1c2b8e-7a3d-4c55-9e0f-d1d1d1d1d1d1"
	Token      = "d1test-secret-token-0ZK3q9"
)

// Server is a fake D1 API over one SQLite file.
type Server struct {
	// URL is the API base URL to configure a client with; it ends in
	// /client/v4 like Cloudflare's.
	URL        string
	AccountID  string
	DatabaseID string
	Token      string
	// WriteToken, when set, is the only token that may run a write
	// statement (the read Token gets a 403 for one).
	WriteToken string

	t      testing.TB
	dbPath string
	srv    *httptest.Server
	ro     *sql.DB

	mu       sync.Mutex
	rw       *sql.DB
	n        int
	faults   map[int]Fault
	faultsAt int // every request from this one on gets fromFault (0: none)
	from     Fault
	hook     func(n int, sql string, db *sql.DB)
	requests []Request
	lastOK   []byte
}

// Request is one request the server received.
type Request struct {
	N      int // 1-based
	SQL    string
	Params []any // as bound: nil, int64, float64, string
	Status int   // HTTP status answered (0 for a dropped connection)
	// Token is the bearer token the request carried (least-privilege
	// tests: which credential a command used).
	Token string
}

// Fault replaces the answer to a request.
type Fault struct {
	Status     int    // HTTP status of the error answer
	RetryAfter string // Retry-After header, when not ""
	Code       int    // API error code in the envelope
	Message    string // API error message in the envelope
	Repeat     bool   // answer with the previous successful answer's body, HTTP 200
	Drop       bool   // close the connection without answering
	Truncate   bool   // answer normally, but close the connection half-way through the body
}

// TooManyRequests is D1's rate-limit answer: 429 with Retry-After.
func TooManyRequests(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Code: 971, Message: "Please wait and consider throttling your request speed"}
}

// InternalError is a 500 answer.
func InternalError() Fault {
	return Fault{Status: http.StatusInternalServerError, Code: 7500, Message: "Internal error"}
}

// ErrorEnvelope is an HTTP 400 answer with "success": false and the given error.
func ErrorEnvelope(code int, message string) Fault {
	return Fault{Status: http.StatusBadRequest, Code: code, Message: message}
}

// Unauthorized is the answer to a refused token.
func Unauthorized() Fault {
	return Fault{Status: http.StatusUnauthorized, Code: 10000, Message: "Authentication error"}
}

// RepeatPreviousPage answers with the previous successful answer again.
func RepeatPreviousPage() Fault { return Fault{Repeat: true} }

// DropConnection closes the connection without an answer: a transport error.
func DropConnection() Fault { return Fault{Drop: true} }

// TruncatedBody sends the real answer's status and Content-Length but only
// the first half of its body, then closes the connection: the client sees
// an unexpected EOF while reading the body.
func TruncatedBody() Fault { return Fault{Truncate: true} }

// Option configures a Server.
type Option func(*Server)

// WithToken sets the token the server accepts.
func WithToken(token string) Option { return func(s *Server) { s.Token = token } }

// WithWriteToken makes write statements need token (reads accept it too).
func WithWriteToken(token string) Option { return func(s *Server) { s.WriteToken = token } }

// WithFault answers request n (1-based) with f.
func WithFault(n int, f Fault) Option { return func(s *Server) { s.faults[n] = f } }

// WithFaultFrom answers every request from the n-th on with f.
func WithFaultFrom(n int, f Fault) Option {
	return func(s *Server) { s.faultsAt, s.from = n, f }
}

// OnRequest calls fn before each request is answered, with the request's
// number and SQL and a writable handle on the database file.
func OnRequest(fn func(n int, sql string, db *sql.DB)) Option {
	return func(s *Server) { s.hook = fn }
}

// NewServer starts a fake D1 API over the SQLite file at dbPath; it stops
// when the test ends.
func NewServer(t testing.TB, dbPath string, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		AccountID: AccountID, DatabaseID: DatabaseID, Token: Token,
		t: t, dbPath: dbPath, faults: map[int]Fault{},
	}
	for _, o := range opts {
		o(s)
	}
	ro, err := sql.Open("sqlite", referrals.FileURI(dbPath)+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		t.Fatalf("d1fake: open %s: %v", dbPath, err)
	}
	s.ro = ro
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/client/v4"
	t.Cleanup(func() {
		s.srv.Close()
		s.ro.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.rw != nil {
			s.rw.Close()
		}
	})
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock() // one request at a time, like a single-threaded database
	s.n++
	req := Request{N: s.n}
	status, body := s.answer(r, &req)
	if status == 0 { // drop
		s.requests = append(s.requests, req)
		retrytest.Drop(w, retrytest.FIN)
		return
	}
	req.Status = status
	s.requests = append(s.requests, req)
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests || status >= 500 {
		if f, ok := s.faultFor(req.N); ok && f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
	}
	if f, ok := s.faultFor(req.N); ok && f.Truncate {
		retrytest.CutInHalf(w, r, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			w.Write(body) //nolint:errcheck // cut by CutInHalf
		}, retrytest.FIN)
		return
	}
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client sees a short body
}

func (s *Server) faultFor(n int) (Fault, bool) {
	if f, ok := s.faults[n]; ok {
		return f, true
	}
	if s.faultsAt > 0 && n >= s.faultsAt {
		return s.from, true
	}
	return Fault{}, false
}

// answer returns the HTTP status and body for a request (status 0: drop).
func (s *Server) answer(r *http.Request, req *Request) (int, []byte) {
	want := "/client/v4/accounts/" + s.AccountID + "/d1/database/" + s.DatabaseID + "/query"
	if r.URL.Path != want {
		return failure(http.StatusNotFound, 7003, "Could not route to "+r.URL.Path+", perhaps your object identifier is invalid?")
	}
	if r.Method != http.MethodPost {
		return failure(http.StatusMethodNotAllowed, 10405, "Method not allowed")
	}
	auth := r.Header.Get("Authorization")
	req.Token = strings.TrimPrefix(auth, "Bearer ")
	if auth != "Bearer "+s.Token && (s.WriteToken == "" || auth != "Bearer "+s.WriteToken) {
		return failure(http.StatusUnauthorized, 10000, "Authentication error")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return failure(http.StatusBadRequest, 7400, "The request is malformed: Content-Type "+ct)
	}
	var in struct {
		SQL    *string `json:"sql"`
		Params []any   `json:"params"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.SQL == nil {
		return failure(http.StatusBadRequest, 7400, fmt.Sprintf("The request is malformed: %v", err))
	}
	req.SQL = *in.SQL
	params, err := bindParams(in.Params)
	if err != nil {
		return failure(http.StatusBadRequest, 7400, "The request is malformed: "+err.Error())
	}
	req.Params = params

	if s.hook != nil {
		s.hook(req.N, req.SQL, s.writable())
	}
	if f, ok := s.faultFor(req.N); ok {
		switch {
		case f.Drop:
			return 0, nil
		case f.Repeat:
			if s.lastOK != nil {
				return http.StatusOK, s.lastOK
			}
		case f.Truncate: // the real answer, cut by serve
		default:
			return failure(f.Status, f.Code, f.Message)
		}
	}

	var rows []map[string]any
	var changes int64
	if isWrite(req.SQL) {
		if s.WriteToken != "" && auth != "Bearer "+s.WriteToken {
			return failure(http.StatusForbidden, 10000, "Authentication error: the token may not write to this database")
		}
		rows, changes, err = []map[string]any{}, 0, nil
		res, werr := s.writable().ExecContext(r.Context(), req.SQL, params...)
		if werr == nil {
			changes, werr = res.RowsAffected()
		}
		err = werr
	} else {
		rows, err = s.run(r.Context(), req.SQL, params)
	}
	if err != nil {
		return failure(http.StatusBadRequest, 7500, err.Error()+": SQLITE_ERROR")
	}
	body, err := json.Marshal(map[string]any{
		"success":  true,
		"errors":   []any{},
		"messages": []any{},
		"result": []any{map[string]any{
			"results": rows,
			"success": true,
			"meta": map[string]any{
				"served_by": "d1test", "duration": 0.1, "changes": changes, "last_row_id": 0,
				"changed_db": changes > 0, "size_after": 0, "rows_read": len(rows), "rows_written": changes,
			},
		}},
	})
	if err != nil {
		return failure(http.StatusInternalServerError, 7500, "encode: "+err.Error())
	}
	s.lastOK = body
	return http.StatusOK, body
}

func failure(status, code int, message string) (int, []byte) {
	body, _ := json.Marshal(map[string]any{
		"result":   nil,
		"success":  false,
		"errors":   []any{map[string]any{"code": code, "message": message}},
		"messages": []any{},
	})
	return status, body
}

func (s *Server) writable() *sql.DB {
	if s.rw == nil {
		db, err := sql.Open("sqlite", referrals.FileURI(s.dbPath))
		if err != nil {
			s.t.Errorf("d1fake: open %s for writing: %v", s.dbPath, err)
		}
		s.rw = db
	}
	return s.rw
}

// bindParams converts JSON params as D1 binds them: integral numbers as
// INTEGER, other numbers as REAL, booleans as 0/1.
func bindParams(in []any) ([]any, error) {
	out := make([]any, len(in))
	for i, p := range in {
		switch p := p.(type) {
		case nil, string:
			out[i] = p
		case bool:
			out[i] = int64(0)
			if p {
				out[i] = int64(1)
			}
		case json.Number:
			if n, err := strconv.ParseInt(string(p), 10, 64); err == nil {
				out[i] = n
			} else if f, err := strconv.ParseFloat(string(p), 64); err == nil {
				out[i] = f
			} else {
				return nil, fmt.Errorf("param %d: %v", i+1, err)
			}
		default:
			return nil, fmt.Errorf("param %d: unsupported type %T", i+1, p)
		}
	}
	return out, nil
}

// run executes one statement and renders its rows as D1 does. A SELECT is
// wrapped so that every result column is an expression: modernc.org/sqlite
// would otherwise turn text in DATETIME columns into time.Time, while D1
// returns the stored text.
func (s *Server) run(ctx context.Context, q string, params []any) ([]map[string]any, error) {
	q = strings.TrimRight(strings.TrimSpace(q), "; \t\n")
	head := strings.ToUpper(strings.TrimSpace(q))
	if strings.HasPrefix(head, "SELECT") || strings.HasPrefix(head, "WITH") {
		rs, err := s.ro.QueryContext(ctx, q, params...)
		if err != nil {
			return nil, err
		}
		cols, err := rs.Columns()
		rs.Close()
		if err != nil {
			return nil, err
		}
		inner := make([]string, len(cols))
		outer := make([]string, len(cols))
		for i, c := range cols {
			inner[i] = "c" + strconv.Itoa(i)
			outer[i] = "+c" + strconv.Itoa(i) + " AS " + referrals.QuoteIdent(c)
		}
		q = "WITH d1test_q(" + strings.Join(inner, ", ") + ") AS (" + q + ") SELECT " + strings.Join(outer, ", ") + " FROM d1test_q"
	}
	rs, err := s.ro.QueryContext(ctx, q, params...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	err = referrals.ScanRows(rs, func(vals []any) error {
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			switch v := vals[i].(type) {
			case []byte:
				b := make([]int, len(v))
				for j, x := range v {
					b[j] = int(x)
				}
				row[c] = b
			default:
				row[c] = v
			}
		}
		out = append(out, row)
		return nil
	})
	return out, err
}

// isWrite reports whether q is a statement that changes the database.
func isWrite(q string) bool {
	head := strings.ToUpper(strings.TrimSpace(q))
	for _, w := range []string{"UPDATE", "INSERT", "DELETE", "REPLACE"} {
		if strings.HasPrefix(head, w) {
			return true
		}
	}
	return false
}
