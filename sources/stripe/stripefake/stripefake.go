// Package stripefake is an in-process fake of the Stripe API list endpoints
// refrecon reads, for tests: an httptest server that serves the objects of
// an NDJSON export (sources/stripe/export) as API-version-2023-10-16-shaped
// list pages, and injects faults on demand.
//
// Served: GET /v1/customers, /v1/subscriptions (status: default hides
// canceled and incomplete_expired, "all" shows every one),
// /v1/invoices (status filter), /v1/refunds, /v1/disputes,
// /v1/credit_notes, /v1/invoices/{id}/lines and
// /v1/subscription_items?subscription=ID. Lists honour limit (1..100,
// default 10) and starting_after, are served in export order, and embed at
// most 10 invoice lines or subscription items per object (has_more set when
// there are more), as Stripe does. Errors have Stripe's shape
// ({"error":{"type":...,"message":...}}). A request whose bearer key is not
// Key (or WriteKey) gets a 401 whose message repeats the key in full, so
// tests can check that clients never print it.
//
// Writes (balance.go): POST /v1/customers/{id}/balance_transactions creates
// a customer balance transaction, and GET on the same path lists the
// customer's, newest first. POSTs honour Idempotency-Key as Stripe does: the
// same key with the same parameters replays the first answer (same object,
// same status, header Idempotent-Replayed: true); the same key with other
// parameters is a 400 idempotency_error. With WriteKey set, only WriteKey
// may POST (Key gets a 403, as a restricted read key would).
package stripefake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sources/retry/retrytest"
)

// EmbedLimit is how many invoice lines or subscription items an embedded
// list carries.
const EmbedLimit = 10

// Fault is a failure the server injects into requests to one path.
type Fault struct {
	Path  string // request path, e.g. "/v1/invoices"
	After int    // the fault starts with request number After+1 to Path (counting from server start)
	Count int    // how many requests it affects; < 0 = every one from then on

	Status      int           // response status (429, 500, 401, ...); 0 = 200 (for Delay / Malformed)
	Message     string        // the error's message, when set (a test of what reaches an error text)
	RetryAfter  string        // Retry-After header, if any
	ShouldRetry string        // Stripe-Should-Retry header, if any
	Delay       time.Duration // wait before answering (ends early if the client goes away)
	Malformed   bool          // answer 200 with a truncated JSON page
	// Reset closes the connection without an answer (the client sees a
	// connection reset or EOF: a transport error).
	Reset bool
	// Truncate answers 200 with the real page's headers and Content-Length
	// but only the first half of its body, then closes the connection (the
	// client sees an unexpected EOF while reading the body).
	Truncate bool
}

// Server is the fake Stripe API.
type Server struct {
	*httptest.Server
	// Key is the secret key requests must carry.
	Key string
	// WriteKey, when set, is the only key that may POST (and may also read).
	WriteKey string
	// Delay, when set, is waited before answering every request (crash
	// tests spread their kills over a run with it).
	Delay time.Duration

	mu       sync.Mutex
	lists    map[string][]map[string]json.RawMessage // "customer" -> objects in export order
	faults   []Fault
	requests map[string]int
	queries  map[string][]url.Values
	byKey    map[string]int // requests per bearer key
	balance  balanceState
}

// New starts a fake serving the objects of an NDJSON export, accepting key
// (any key when ""), and closes it when the test ends.
func New(t testing.TB, key string, ndjson []byte) *Server {
	t.Helper()
	s := &Server{Key: key, lists: map[string][]map[string]json.RawMessage{}, requests: map[string]int{}, queries: map[string][]url.Values{}}
	if err := s.load(ndjson); err != nil {
		t.Fatalf("stripefake: %v", err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// load keeps the raw objects by type. They are not checked against their
// Stripe types: a test may serve an object the client must refuse.
func (s *Server) load(ndjson []byte) error {
	for line := range bytes.SplitSeq(ndjson, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var o map[string]json.RawMessage
		if err := json.Unmarshal(line, &o); err != nil {
			return err
		}
		kind := str(o["object"])
		s.lists[kind] = append(s.lists[kind], o)
	}
	return nil
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Requests returns how many requests reached path.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// RequestsWithKey returns how many requests carried key as their bearer
// key (least-privilege tests: which credential a command used).
func (s *Server) RequestsWithKey(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKey[key]
}

// TotalRequests returns how many requests reached the server.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

// Queries returns the query strings of the requests to path, in order.
func (s *Server) Queries(path string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.queries[path]...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	n := s.requests[r.URL.Path]
	if s.byKey == nil {
		s.byKey = map[string]int{}
	}
	s.byKey[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]++
	s.queries[r.URL.Path] = append(s.queries[r.URL.Path], r.URL.Query())
	var fault *Fault
	for i := range s.faults {
		f := s.faults[i]
		if f.Path == r.URL.Path && n > f.After && (f.Count < 0 || n <= f.After+f.Count) {
			fault = &f
			break
		}
	}
	delay := s.Delay
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", fmt.Sprintf("req_fake_%d", n))
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil {
		if fault.Delay > 0 {
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		if fault.ShouldRetry != "" {
			w.Header().Set("Stripe-Should-Retry", fault.ShouldRetry)
		}
		switch {
		case fault.Reset:
			retrytest.Drop(w, retrytest.RST)
			return
		case fault.Truncate:
			retrytest.CutInHalf(w, r, s.serveData, retrytest.RST)
			return
		case fault.Malformed:
			_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"cus_trunc`))
			return
		case fault.Status == http.StatusTooManyRequests:
			writeError(w, fault.Status, "rate_limit_error", "lock_timeout", cmp.Or(fault.Message, "Too many requests hit the API too quickly."))
			return
		case fault.Status >= 500:
			writeError(w, fault.Status, "api_error", "", cmp.Or(fault.Message, "An unknown error occurred (injected)."))
			return
		case fault.Status != 0:
			writeError(w, fault.Status, "invalid_request_error", "", cmp.Or(fault.Message, fmt.Sprintf("Injected status %d.", fault.Status)))
			return
		}
	}

	s.serveData(w, r)
}

// serveData answers a request that no fault replaced.
func (s *Server) serveData(w http.ResponseWriter, r *http.Request) {
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.Key != "" && got != s.Key && (s.WriteKey == "" || got != s.WriteKey) {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "api_key_invalid", "Invalid API Key provided: "+got)
		return
	}
	if id, ok := balancePath(r.URL.Path); ok {
		s.serveBalance(w, r, id, got)
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "Only GET is served by the fake.")
		return
	}
	q := r.URL.Query()
	path := r.URL.Path
	switch {
	case path == "/v1/customers":
		s.list(w, q, path, "customer", nil, nil)
	case path == "/v1/subscriptions":
		status := q.Get("status")
		s.list(w, q, path, "subscription", func(o map[string]json.RawMessage) bool {
			st := str(o["status"])
			switch status {
			case "all":
				return true
			case "":
				return st != "canceled" && st != "incomplete_expired"
			}
			return st == status
		}, embed("items"))
	case path == "/v1/invoices":
		status := q.Get("status")
		s.list(w, q, path, "invoice", func(o map[string]json.RawMessage) bool {
			return status == "" || str(o["status"]) == status
		}, embed("lines"))
	case path == "/v1/refunds":
		s.list(w, q, path, "refund", nil, nil)
	case path == "/v1/disputes":
		s.list(w, q, path, "dispute", nil, nil)
	case path == "/v1/credit_notes":
		s.list(w, q, path, "credit_note", nil, nil)
	case strings.HasPrefix(path, "/v1/invoices/") && strings.HasSuffix(path, "/lines"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/invoices/"), "/lines")
		s.subList(w, q, path, "invoice", id, "lines")
	case path == "/v1/subscription_items":
		id := q.Get("subscription")
		if id == "" {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_missing", "Missing required param: subscription.")
			return
		}
		s.subList(w, q, path, "subscription", id, "items")
	default:
		writeError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "Unrecognized request URL (GET: "+path+").")
	}
}

// list serves one page of the objects of a type.
func (s *Server) list(w http.ResponseWriter, q url.Values, path, object string, keep func(map[string]json.RawMessage) bool, shape func(map[string]json.RawMessage)) {
	var items []map[string]json.RawMessage
	for _, o := range s.lists[object] {
		if keep == nil || keep(o) {
			items = append(items, o)
		}
	}
	s.page(w, q, path, object, items, shape)
}

// subList serves a page of an object's embedded list (invoice lines,
// subscription items).
func (s *Server) subList(w http.ResponseWriter, q url.Values, path, object, id, field string) {
	for _, o := range s.lists[object] {
		if str(o["id"]) != id {
			continue
		}
		var sub struct {
			Data []map[string]json.RawMessage `json:"data"`
		}
		if f, ok := o[field]; ok {
			_ = json.Unmarshal(f, &sub)
		}
		s.page(w, q, path, "item", sub.Data, nil)
		return
	}
	writeError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", fmt.Sprintf("No such %s: '%s'", object, id))
}

func (s *Server) page(w http.ResponseWriter, q url.Values, path, object string, items []map[string]json.RawMessage, shape func(map[string]json.RawMessage)) {
	limit := 10
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer",
				"Invalid integer: limit must be between 1 and 100.")
			return
		}
		limit = n
	}
	start := 0
	if after := q.Get("starting_after"); after != "" {
		start = -1
		for i, o := range items {
			if str(o["id"]) == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "resource_missing",
				fmt.Sprintf("No such %s: '%s'", object, after))
			return
		}
	}
	end := min(start+limit, len(items))
	data := make([]json.RawMessage, 0, end-start)
	for _, o := range items[start:end] {
		if shape != nil {
			o = cloneMap(o)
			shape(o)
		}
		b, _ := json.Marshal(o)
		data = append(data, b)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "has_more": end < len(items), "url": path,
	})
}

// embed cuts an object's embedded list (field) to EmbedLimit entries.
func embed(field string) func(map[string]json.RawMessage) {
	return func(o map[string]json.RawMessage) {
		raw, ok := o[field]
		if !ok {
			return
		}
		var l map[string]json.RawMessage
		if json.Unmarshal(raw, &l) != nil {
			return
		}
		var data []json.RawMessage
		if json.Unmarshal(l["data"], &data) != nil || len(data) <= EmbedLimit {
			return
		}
		l["data"], _ = json.Marshal(data[:EmbedLimit])
		l["has_more"] = json.RawMessage("true")
		o[field], _ = json.Marshal(l)
	}
}

func cloneMap(o map[string]json.RawMessage) map[string]json.RawMessage {
	c := make(map[string]json.RawMessage, len(o))
	for k, v := range o {
		c[k] = v
	}
	return c
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.WriteHeader(status)
	_, _ = w.Write(append(errorBody(typ, code, msg), '\n'))
}

// errorBody is Stripe's error envelope: {"error": {"type", "message",
// "code" when there is one}}.
func errorBody(typ, code, msg string) []byte {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return b
}
