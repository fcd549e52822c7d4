package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sources/retry"
	"github.com/refrecon/refrecon/sources/stripe/api"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
)

const writeKey = "sk_test_settle_write_5Yq0"

var creditCustomers = []byte(`{"object":"customer","id":"cus_A","email":"a@example.com"}
{"object":"customer","id":"cus_E","email":"e@example.com","currency":"eur"}
`)

func newCreditor(t *testing.T, fake *stripefake.Server, key string) *api.Creditor {
	t.Helper()
	c, err := api.NewCreditor(api.Config{SecretKey: key, BaseURL: fake.URL, RateLimit: 10000,
		Retry: retry.Policy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreditGrantFindAndIdempotency(t *testing.T) {
	ctx := context.Background()
	fake := stripefake.New(t, key, creditCustomers)
	fake.WriteKey = writeKey
	c := newCreditor(t, fake, writeKey)
	cr := api.Credit{Customer: "cus_A", Amount: 1500, Currency: "usd", Cycle: "cycle-1", Snapshot: "20260415T000000Z-aaaaaaaaaaaa", Refcode: "ALICE", IdempotencyKey: "refrecon-k1"}

	if id, err := c.Find(ctx, cr); err != nil || id != "" {
		t.Fatalf("Find before any credit = %q, %v; want none", id, err)
	}
	id, err := c.Grant(ctx, cr)
	if err != nil {
		t.Fatal(err)
	}
	// The same key and parameters: Stripe replays the first answer.
	again, err := c.Grant(ctx, cr)
	if err != nil || again != id {
		t.Errorf("Grant replayed = %q, %v; want %q", again, err, id)
	}
	if n := len(fake.BalanceTransactions()); n != 1 || fake.CreatingPosts() != 1 {
		t.Errorf("%d balance transactions after a replayed POST, want 1", n)
	}
	bt := fake.BalanceTransactions()[0]
	if bt.Amount != -1500 || bt.Currency != "usd" || bt.Metadata["cycle"] != "cycle-1" || bt.Metadata["snapshot"] != cr.Snapshot || bt.Metadata["refcode"] != "ALICE" {
		t.Errorf("balance transaction %+v: want amount -1500 usd with the cycle, snapshot and refcode", bt)
	}
	if got, err := c.Find(ctx, cr); err != nil || got != id {
		t.Errorf("Find after Grant = %q, %v; want %q", got, err, id)
	}
	other := cr
	other.Refcode = "BOB"
	if got, err := c.Find(ctx, other); err != nil || got != "" {
		t.Errorf("Find of another refcode = %q, %v; want none", got, err)
	}
	// The same key with other parameters: an idempotency error, a 4xx.
	changed := cr
	changed.Amount = 1600
	if _, err := c.Grant(ctx, changed); !errors.Is(err, retry.ErrBadInput) || !strings.Contains(err.Error(), "idempotency_error") {
		t.Errorf("Grant with a reused key and other params = %v, want an idempotency_error of class ErrBadInput", err)
	}
}

func TestCreditErrors(t *testing.T) {
	ctx := context.Background()
	fake := stripefake.New(t, key, creditCustomers)
	fake.WriteKey = writeKey
	cr := api.Credit{Customer: "cus_E", Amount: 10, Currency: "usd", Cycle: "c", Snapshot: "s", Refcode: "R", IdempotencyKey: "refrecon-k2"}
	// A customer whose balance is in another currency: a 4xx, not retried.
	if _, err := newCreditor(t, fake, writeKey).Grant(ctx, cr); !errors.Is(err, retry.ErrBadInput) {
		t.Errorf("Grant in another currency = %v, want ErrBadInput", err)
	}
	if n := fake.Requests("/v1/customers/cus_E/balance_transactions"); n != 1 {
		t.Errorf("%d requests for a 400, want 1 (never retried)", n)
	}
	// The read key may not write: refused, and the key is never printed.
	cr.Customer = "cus_A"
	_, err := newCreditor(t, fake, key).Grant(ctx, cr)
	if !errors.Is(err, retry.ErrRefused) || !errors.Is(err, api.ErrKeyRefused) {
		t.Errorf("Grant with the read key = %v, want ErrRefused", err)
	}
	bad := "sk_test_wrong_" + strings.Repeat("x", 8)
	_, err = newCreditor(t, fake, bad).Find(ctx, cr)
	if !errors.Is(err, retry.ErrRefused) || strings.Contains(err.Error(), bad) {
		t.Errorf("Find with a wrong key = %v, want ErrRefused without the key", err)
	}
	// A 500 is retried; the idempotency key makes the retry safe.
	fake.Inject(stripefake.Fault{Path: "/v1/customers/cus_A/balance_transactions", After: fake.Requests("/v1/customers/cus_A/balance_transactions"), Count: 1, Status: http.StatusInternalServerError})
	cr.IdempotencyKey = "refrecon-k3"
	if _, err := newCreditor(t, fake, writeKey).Grant(ctx, cr); err != nil {
		t.Errorf("Grant after a 500: %v", err)
	}
	if n := fake.CreatingPosts(); n != 1 {
		t.Errorf("%d credits created, want 1", n)
	}
}

// TestCreditTransientErrors: a 5xx or a broken connection that outlasts the
// retries is ErrTransient (settle stops and a re-run resumes), and no key
// reaches the error's text, even when Stripe's message echoes it.
func TestCreditTransientErrors(t *testing.T) {
	ctx := context.Background()
	fake := stripefake.New(t, key, creditCustomers)
	fake.WriteKey = writeKey
	path := "/v1/customers/cus_A/balance_transactions"
	cr := api.Credit{Customer: "cus_A", Amount: 10, Currency: "usd", Cycle: "c", Snapshot: "s", Refcode: "R", IdempotencyKey: "refrecon-k4"}
	c := newCreditor(t, fake, writeKey)

	fake.Inject(stripefake.Fault{Path: path, Count: 1000, Status: http.StatusServiceUnavailable, Message: "overloaded; your key " + writeKey + " and sk_live_0therKey9"})
	_, err := c.Grant(ctx, cr)
	if !errors.Is(err, retry.ErrTransient) || errors.Is(err, retry.ErrBadInput) {
		t.Errorf("Grant after 503s = %v, want ErrTransient only", err)
	}
	if err != nil && (strings.Contains(err.Error(), writeKey) || strings.Contains(err.Error(), "sk_live_0therKey9")) {
		t.Errorf("Grant's error shows a key: %v", err)
	}
	if err != nil && (!strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "giving up")) {
		t.Errorf("Grant's error %q does not say HTTP 503 and that the retries gave up", err)
	}
	if n := fake.CreatingPosts(); n != 0 {
		t.Errorf("%d credits created by failed requests, want 0", n)
	}

	fake = stripefake.New(t, key, creditCustomers)
	fake.WriteKey = writeKey
	fake.Inject(stripefake.Fault{Path: path, Count: 1000, Reset: true})
	_, err = newCreditor(t, fake, writeKey).Find(ctx, cr)
	if !errors.Is(err, retry.ErrTransient) {
		t.Errorf("Find over broken connections = %v, want ErrTransient", err)
	}
	if err != nil && strings.Contains(err.Error(), writeKey) {
		t.Errorf("Find's error shows the key: %v", err)
	}
}
