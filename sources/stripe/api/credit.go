package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/refrecon/refrecon/sources/retry"
)

// The settlement's one write to Stripe (SPEC 2.8, `refrecon settle apply`
// only): an award granted as a customer balance credit, through stripe-go's
// customerbalancetransaction client, over the same retry.Transport and rate
// limiter as the reads. A POST carries an Idempotency-Key, so the transport
// may retry it (429, 5xx, a broken connection) and Stripe answers a repeat
// with the first answer. Its key is SETTLE_STRIPE_SECRET_KEY, never the read
// key of runs.

// Credit is one award to grant as a customer balance credit.
type Credit struct {
	Customer       string // the Stripe customer id
	Amount         int64  // the award in minor units (> 0); the credit is -Amount
	Currency       string
	Cycle          string // metadata "cycle"
	Snapshot       string // metadata "snapshot"
	Refcode        string // metadata "refcode"
	IdempotencyKey string
}

// Creditor grants credits with a key allowed to write customer balance
// transactions.
type Creditor struct {
	api *client.API
	key string
}

// NewCreditor checks cfg (SecretKey is the write key) and builds the
// client. It makes no request.
func NewCreditor(cfg Config) (*Creditor, error) {
	api, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Creditor{api: api, key: cfg.SecretKey}, nil
}

// Find lists the customer's balance transactions (newest first, every page)
// and returns the id of one whose metadata names c's cycle, snapshot and
// refcode: the credit already granted. "" when there is none.
func (c *Creditor) Find(ctx context.Context, cr Credit) (string, error) {
	p := &stripe.CustomerBalanceTransactionListParams{Customer: stripe.String(cr.Customer)}
	p.Context = ctx
	p.Limit = stripe.Int64(pageSize)
	it := c.api.CustomerBalanceTransactions.List(p)
	for it.Next() {
		t := it.CustomerBalanceTransaction()
		if t.Metadata["cycle"] == cr.Cycle && t.Metadata["snapshot"] == cr.Snapshot && t.Metadata["refcode"] == cr.Refcode {
			return t.ID, nil
		}
	}
	if err := it.Err(); err != nil {
		return "", fmt.Errorf("list balance transactions of customer %s: %w", cr.Customer, c.classify(err))
	}
	return "", nil
}

// Grant creates the credit (amount -cr.Amount) with cr's idempotency key
// and returns the balance transaction's id. Errors are classed as classify
// says.
func (c *Creditor) Grant(ctx context.Context, cr Credit) (string, error) {
	if cr.Amount <= 0 || cr.Customer == "" || cr.Currency == "" || cr.IdempotencyKey == "" {
		return "", fmt.Errorf("grant credit to %q: want a customer, a currency, an amount > 0 and an idempotency key", cr.Customer)
	}
	p := &stripe.CustomerBalanceTransactionParams{
		Customer: stripe.String(cr.Customer),
		Amount:   stripe.Int64(-cr.Amount),
		Currency: stripe.String(cr.Currency),
		Metadata: map[string]string{"cycle": cr.Cycle, "snapshot": cr.Snapshot, "refcode": cr.Refcode},
	}
	p.Context = ctx
	p.SetIdempotencyKey(cr.IdempotencyKey)
	t, err := c.api.CustomerBalanceTransactions.New(p)
	if err != nil {
		return "", fmt.Errorf("grant credit to customer %s: %w", cr.Customer, c.classify(err))
	}
	return t.ID, nil
}

// classify gives a failed request's error its class (sources/retry) and a
// text without the key: a refused key is ErrKeyRefused; another 4xx
// (a deleted customer's 404 included: that award cannot be credited, the
// others can) is ErrBadInput; 408, 429 and 5xx, which the transport retried
// until it gave up, are ErrTransient, as is a broken connection it gave up
// on. A context error is returned as it is.
func (c *Creditor) classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *stripe.Error
	if !errors.As(err, &se) {
		// The text is redacted, so the chain is not kept; the class is.
		out := errors.New(redactKey(c.key, err.Error()))
		if class := retry.ClassOf(err); class != nil {
			return retry.Mark(out, class)
		}
		return out
	}
	code := se.HTTPStatusCode
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		return fmt.Errorf("HTTP %d: %w", code, ErrKeyRefused)
	}
	class := retry.ErrTransient
	if code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout {
		class = retry.ErrBadInput
	}
	attempts, msg := errorParts(c.key, se)
	return retry.Mark(fmt.Errorf("HTTP %d %s%s: %s", code, se.Type, attempts, msg), class)
}
