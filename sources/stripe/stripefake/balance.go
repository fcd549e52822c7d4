package stripefake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// balanceState is the fake's customer balance transactions and the
// answers it keeps per idempotency key.
type balanceState struct {
	txns    map[string][]map[string]json.RawMessage // customer id -> transactions, oldest first
	created int                                     // transactions created (ids and created times)
	posts   int                                     // POSTs that created a transaction (not replays)
	keys    map[string]idemAnswer
}

type idemAnswer struct {
	params string // method, path and canonical form body
	status int
	body   []byte
}

// BalanceTransaction is a created customer balance transaction, as tests
// inspect it.
type BalanceTransaction struct {
	ID       string
	Customer string
	Amount   int64
	Currency string
	Metadata map[string]string
}

// BalanceTransactions returns every customer balance transaction created,
// in creation order.
func (s *Server) BalanceTransactions() []BalanceTransaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []BalanceTransaction
	for _, list := range s.balance.txns {
		for _, o := range list {
			var t struct {
				ID       string            `json:"id"`
				Customer string            `json:"customer"`
				Amount   int64             `json:"amount"`
				Currency string            `json:"currency"`
				Metadata map[string]string `json:"metadata"`
				Created  int64             `json:"created"`
			}
			b, _ := json.Marshal(o)
			_ = json.Unmarshal(b, &t)
			out = append(out, BalanceTransaction{ID: t.ID, Customer: t.Customer, Amount: t.Amount, Currency: t.Currency, Metadata: t.Metadata})
		}
	}
	// ids are cbtxn_fake_<n>: order by n.
	num := func(id string) int { n, _ := strconv.Atoi(strings.TrimPrefix(id, "cbtxn_fake_")); return n }
	slices.SortFunc(out, func(a, b BalanceTransaction) int { return cmp.Compare(num(a.ID), num(b.ID)) })
	return out
}

// CreatingPosts returns how many POSTs created a balance transaction
// (replays of an idempotency key not counted).
func (s *Server) CreatingPosts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.balance.posts
}

// balancePath matches /v1/customers/{id}/balance_transactions.
func balancePath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v1/customers/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/balance_transactions")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

func (s *Server) customerExists(id string) (map[string]json.RawMessage, bool) {
	for _, o := range s.lists["customer"] {
		if str(o["id"]) == id {
			return o, true
		}
	}
	return nil, false
}

func (s *Server) serveBalance(w http.ResponseWriter, r *http.Request, customer, key string) {
	cust, ok := s.customerExists(customer)
	switch r.Method {
	case http.MethodGet:
		if !ok {
			writeError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", fmt.Sprintf("No such customer: '%s'", customer))
			return
		}
		s.mu.Lock()
		list := s.balance.txns[customer]
		items := make([]map[string]json.RawMessage, len(list))
		for i, o := range list { // newest first, as Stripe lists
			items[len(list)-1-i] = o
		}
		s.mu.Unlock()
		s.page(w, r.URL.Query(), r.URL.Path, "customer_balance_transaction", items, nil)
	case http.MethodPost:
		if s.WriteKey != "" && key != s.WriteKey {
			writeError(w, http.StatusForbidden, "invalid_request_error", "secret_key_required",
				"The provided key does not have the required permissions for this endpoint (rak_customer_write).")
			return
		}
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid form body.")
			return
		}
		params := r.Method + " " + r.URL.Path + "?" + r.PostForm.Encode() // Encode sorts by key
		idem := r.Header.Get("Idempotency-Key")
		s.mu.Lock()
		defer s.mu.Unlock()
		if idem != "" {
			if a, seen := s.balance.keys[idem]; seen {
				if a.params != params {
					writeError(w, http.StatusBadRequest, "idempotency_error", "",
						"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '"+idem+"' if you meant to execute a different request.")
					return
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(a.status)
				_, _ = w.Write(a.body)
				return
			}
		}
		status, body := s.createBalance(cust, ok, customer, r.PostForm)
		if idem != "" {
			if s.balance.keys == nil {
				s.balance.keys = map[string]idemAnswer{}
			}
			s.balance.keys[idem] = idemAnswer{params: params, status: status, body: body}
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	default:
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "Method not allowed.")
	}
}

// createBalance validates a create request and stores the transaction; it
// returns the answer (called with s.mu held).
func (s *Server) createBalance(cust map[string]json.RawMessage, exists bool, customer string, form url.Values) (int, []byte) {
	fail := func(status int, code, msg string) (int, []byte) {
		return status, errorBody("invalid_request_error", code, msg)
	}
	if !exists {
		return fail(http.StatusNotFound, "resource_missing", fmt.Sprintf("No such customer: '%s'", customer))
	}
	amount, err := strconv.ParseInt(form.Get("amount"), 10, 64)
	if err != nil || amount == 0 {
		return fail(http.StatusBadRequest, "parameter_invalid_integer", "Invalid integer: amount must be a non-zero integer.")
	}
	currency := form.Get("currency")
	if currency == "" {
		return fail(http.StatusBadRequest, "parameter_missing", "Missing required param: currency.")
	}
	if cc := str(cust["currency"]); cc != "" && cc != currency {
		return fail(http.StatusBadRequest, "", fmt.Sprintf("The currency %s does not match the customer's currency %s.", currency, cc))
	}
	meta := map[string]string{}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "metadata["); ok && strings.HasSuffix(name, "]") {
			meta[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	var ending int64
	for _, o := range s.balance.txns[customer] {
		var a int64
		_ = json.Unmarshal(o["amount"], &a)
		ending += a
	}
	ending += amount
	s.balance.created++
	s.balance.posts++
	obj := map[string]any{
		"id": fmt.Sprintf("cbtxn_fake_%d", s.balance.created), "object": "customer_balance_transaction",
		"amount": amount, "currency": currency, "customer": customer, "created": 1767225600 + s.balance.created,
		"description": nilIfEmpty(form.Get("description")), "ending_balance": ending, "livemode": false,
		"metadata": meta, "type": "adjustment", "credit_note": nil, "invoice": nil,
	}
	b, _ := json.Marshal(obj)
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(b, &raw)
	if s.balance.txns == nil {
		s.balance.txns = map[string][]map[string]json.RawMessage{}
	}
	s.balance.txns[customer] = append(s.balance.txns[customer], raw)
	return http.StatusOK, b
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
