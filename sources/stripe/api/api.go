// Package api is the live Stripe driver (SPEC 1.2): it lists
// customers, subscriptions (every status), invoices (every status),
// refunds, disputes and credit notes through one stripe-go v76 client (API
// version 2023-10-16), auto-paginated 100 at a time, the six lists
// concurrently.
//
// Under stripe-go sits a retry.Transport (the one retry policy of
// sources/retry: 429, 5xx and transport errors, Retry-After honoured,
// bounded in count and in total waiting time), with one client-side rate
// limiter shared by every attempt; Stripe-Should-Retry overrides the status.
// stripe-go's own retries are off. A refused key (401/403) stops the read at once with
// ErrKeyRefused; the key itself never appears in errors or logs.
//
// Invoices whose embedded lines are truncated (lines.has_more) get the rest
// from the invoice lines list, and subscriptions likewise from the
// subscription items list, so every object is complete.
//
// ReadStripe converts the listed objects with the export driver's
// Objects.Stripe (the converters of package sources/stripe); Export writes
// the objects as Stripe rendered them (raw JSON, completed lists spliced
// in) in the NDJSON export format, so a run on the export reads exactly
// what a run on the live API reads.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/redact"
	"github.com/refrecon/refrecon/sources/retry"
	stripesrc "github.com/refrecon/refrecon/sources/stripe"
	stripeexport "github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// ErrKeyRefused is returned (wrapped) when Stripe refuses the secret key.
// It is of class retry.ErrRefused.
var ErrKeyRefused = retry.Mark(errors.New("the Stripe API key was refused"), retry.ErrRefused)

// Defaults.
const (
	DefaultRateLimit = 20 // requests per second
	pageSize         = 100
)

// Config configures the live source.
type Config struct {
	SecretKey  string         // required
	BaseURL    string         // "" = Stripe's (https://api.stripe.com)
	RateLimit  float64        // requests per second; 0 = DefaultRateLimit
	HTTPClient *http.Client   // one attempt goes through it (its Timeout bounds an attempt); nil = a client with a 60 s timeout
	Logger     zerolog.Logger // retries are logged at warn; the zero Logger logs nothing

	// Retry is the retry policy of each request (sources/retry); the zero
	// Policy is the production one.
	Retry retry.Policy
}

// Source reads a Stripe account through the API.
type Source struct {
	api *client.API
	key string
	log zerolog.Logger
}

// New checks cfg and builds the client. It makes no request.
func New(cfg Config) (*Source, error) {
	api, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{api: api, key: cfg.SecretKey, log: cfg.Logger}, nil
}

// newAPI checks cfg and builds a stripe-go client over the retry.Transport
// and rate limiter of cfg (the reads' and the settlement's credits').
func newAPI(cfg Config) (*client.API, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("stripe api: no secret key")
	}
	if strings.ContainsAny(cfg.SecretKey, " \t\r\n") {
		return nil, errors.New("stripe api: the secret key contains white space")
	}
	r := cfg.RateLimit
	if r == 0 {
		r = DefaultRateLimit
	}
	if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return nil, fmt.Errorf("stripe api: rate limit must be a positive number of requests per second, not %v", cfg.RateLimit)
	}
	base := stripe.APIURL
	if cfg.BaseURL != "" {
		if _, err := redact.Base(cfg.BaseURL); err != nil {
			return nil, fmt.Errorf("stripe api: %w", err)
		}
		base = cfg.BaseURL
	}
	inner := cfg.HTTPClient
	if inner == nil {
		inner = &http.Client{Timeout: 60 * time.Second}
	}
	if err := cfg.Retry.Validate(); err != nil {
		return nil, fmt.Errorf("stripe api: %w", err)
	}
	limiter := rate.NewLimiter(rate.Limit(r), max(1, int(r/4)))
	log := cfg.Logger
	t := &retry.Transport{
		Attempt: inner,
		Policy:  cfg.Retry,
		Before: func(ctx context.Context) error {
			if err := limiter.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("rate limiter: %w", err)
			}
			return nil
		},
		Decide: shouldRetry,
		Notify: func(req *http.Request, err error, attempt int, wait time.Duration) {
			log.Warn().Str("path", req.URL.Path).Int("attempt", attempt).Dur("backoff", wait).
				Str("reason", err.Error()).Msg("stripe request failed; retrying")
		},
	}
	bc := &stripe.BackendConfig{
		URL:               stripe.String(base),
		HTTPClient:        &http.Client{Transport: t},
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		EnableTelemetry:   stripe.Bool(false),
	}
	api := client.New(cfg.SecretKey, stripe.NewBackendsWithConfig(bc))
	return api, nil
}

// shouldRetry reads Stripe's Stripe-Should-Retry header, which overrides
// the status: false never retries (a 401 or 403 never is either), true
// retries.
func shouldRetry(resp *http.Response) (retry, ok bool) {
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return false, true
	}
	switch resp.Header.Get("Stripe-Should-Retry") {
	case "false":
		return false, true
	case "true":
		return true, true
	}
	return false, false
}

// ReadStripe lists the account.
func (s *Source) ReadStripe(ctx context.Context) (pipeline.Stripe, error) {
	a, err := s.fetch(ctx)
	if err != nil {
		return pipeline.Stripe{}, err
	}
	objs := stripeexport.Objects{
		Customers:     objects(a.customers),
		Subscriptions: objects(a.subscriptions),
		Invoices:      objects(a.invoices),
		Refunds:       objects(a.refunds),
		Disputes:      objects(a.disputes),
		CreditNotes:   objects(a.creditNotes),
	}
	return objs.Stripe(), nil
}

// Export lists the account and writes it to w as the export format:
// customers, subscriptions, invoices, refunds, disputes, credit notes, each
// sorted by id, every object as Stripe rendered it. It flushes w. Nothing is written when
// listing fails.
func (s *Source) Export(ctx context.Context, w *stripeexport.Writer) error {
	a, err := s.fetch(ctx)
	if err != nil {
		return err
	}
	for _, raws := range [][]json.RawMessage{raws(a.customers), raws(a.subscriptions), raws(a.invoices), raws(a.refunds), raws(a.disputes), raws(a.creditNotes)} {
		for _, r := range raws {
			if err := w.Write(r); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// item is one listed object, decoded and raw.
type item[T any] struct {
	id  string
	obj T
	raw json.RawMessage
}

// objects returns the decoded objects of items, in order.
func objects[T any](items []item[T]) []T {
	out := make([]T, len(items))
	for i, it := range items {
		out[i] = it.obj
	}
	return out
}

// raws returns the objects of items as Stripe rendered them, in order.
func raws[T any](items []item[T]) []json.RawMessage {
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		out[i] = it.raw
	}
	return out
}

type account struct {
	customers     []item[*stripe.Customer]
	subscriptions []item[*stripe.Subscription]
	invoices      []item[*stripe.Invoice]
	refunds       []item[*stripe.Refund]
	disputes      []item[*stripe.Dispute]
	creditNotes   []item[*stripe.CreditNote]
}

// fetch lists the six resources concurrently; the first failure cancels
// the others.
func (s *Source) fetch(ctx context.Context) (*account, error) {
	var a account
	g, gctx := errgroup.WithContext(ctx)
	lp := func() stripe.ListParams {
		return stripe.ListParams{Context: gctx, Limit: stripe.Int64(pageSize)}
	}
	g.Go(func() (err error) {
		a.customers, err = listAll[*stripe.Customer](s, "customers", s.api.Customers.List(&stripe.CustomerListParams{ListParams: lp()}).Iter,
			func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.CustomerList).LastResponse })
		return err
	})
	g.Go(func() (err error) {
		p := &stripe.SubscriptionListParams{ListParams: lp(), Status: stripe.String("all")}
		a.subscriptions, err = listAll[*stripe.Subscription](s, "subscriptions", s.api.Subscriptions.List(p).Iter,
			func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.SubscriptionList).LastResponse })
		if err != nil {
			return err
		}
		for i := range a.subscriptions {
			if err := s.completeItems(gctx, &a.subscriptions[i]); err != nil {
				return err
			}
		}
		return nil
	})
	g.Go(func() (err error) {
		a.invoices, err = listAll[*stripe.Invoice](s, "invoices", s.api.Invoices.List(&stripe.InvoiceListParams{ListParams: lp()}).Iter,
			func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.InvoiceList).LastResponse })
		if err != nil {
			return err
		}
		for i := range a.invoices {
			if err := s.completeLines(gctx, &a.invoices[i]); err != nil {
				return err
			}
		}
		return nil
	})
	g.Go(func() (err error) {
		a.refunds, err = listAll[*stripe.Refund](s, "refunds", s.api.Refunds.List(&stripe.RefundListParams{ListParams: lp()}).Iter,
			func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.RefundList).LastResponse })
		return err
	})
	g.Go(func() (err error) {
		a.disputes, err = listAll[*stripe.Dispute](s, "disputes", s.api.Disputes.List(&stripe.DisputeListParams{ListParams: lp()}).Iter,
			func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.DisputeList).LastResponse })
		return err
	})
	g.Go(func() (err error) {
		// A credit note's embedded lines are not read by refrecon and are
		// written as listed (not completed like invoice lines).
		a.creditNotes, err = listAll[*stripe.CreditNote](s, "credit notes", s.api.CreditNotes.List(&stripe.CreditNoteListParams{ListParams: lp()}).Iter,
			func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.CreditNoteList).LastResponse })
		return err
	})
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stripe api: %w", ctx.Err())
		}
		return nil, err
	}
	sortByID(a.customers)
	sortByID(a.subscriptions)
	sortByID(a.invoices)
	sortByID(a.refunds)
	sortByID(a.disputes)
	sortByID(a.creditNotes)
	return &a, nil
}

// completeLines replaces an invoice's truncated embedded lines with the full
// invoice lines list.
func (s *Source) completeLines(ctx context.Context, it *item[*stripe.Invoice]) error {
	inv := it.obj
	if inv.Lines == nil || !inv.Lines.HasMore {
		return nil
	}
	p := &stripe.InvoiceListLinesParams{ListParams: stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)}, Invoice: stripe.String(inv.ID)}
	lines, err := listAll[*stripe.InvoiceLineItem](s, "lines of invoice "+inv.ID, s.api.Invoices.ListLines(p).Iter,
		func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.InvoiceLineItemList).LastResponse })
	if err != nil {
		return err
	}
	inv.Lines.Data, inv.Lines.HasMore = objects(lines), false
	if it.raw, err = splice(it.raw, "lines", raws(lines)); err != nil {
		return fmt.Errorf("stripe api: invoice %s: %w", inv.ID, err)
	}
	return nil
}

// completeItems does for a subscription's items what completeLines does for
// an invoice's lines.
func (s *Source) completeItems(ctx context.Context, it *item[*stripe.Subscription]) error {
	sub := it.obj
	if sub.Items == nil || !sub.Items.HasMore {
		return nil
	}
	p := &stripe.SubscriptionItemListParams{ListParams: stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)}, Subscription: stripe.String(sub.ID)}
	items, err := listAll[*stripe.SubscriptionItem](s, "items of subscription "+sub.ID, s.api.SubscriptionItems.List(p).Iter,
		func(l stripe.ListContainer) *stripe.APIResponse { return l.(*stripe.SubscriptionItemList).LastResponse })
	if err != nil {
		return err
	}
	sub.Items.Data, sub.Items.HasMore = objects(items), false
	if it.raw, err = splice(it.raw, "items", raws(items)); err != nil {
		return fmt.Errorf("stripe api: subscription %s: %w", sub.ID, err)
	}
	return nil
}

// splice sets obj[field].data to data and obj[field].has_more to false.
func splice(obj json.RawMessage, field string, data []json.RawMessage) (json.RawMessage, error) {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(obj, &o); err != nil {
		return nil, err
	}
	var l map[string]json.RawMessage
	if err := json.Unmarshal(o[field], &l); err != nil {
		return nil, fmt.Errorf("%s is not a list: %w", field, err)
	}
	var err error
	if l["data"], err = json.Marshal(data); err != nil {
		return nil, err
	}
	l["has_more"] = json.RawMessage("false")
	if o[field], err = json.Marshal(l); err != nil {
		return nil, err
	}
	return json.Marshal(o)
}

// listAll drains a stripe-go list iterator, pairing each object with its
// raw JSON from the page that carried it, in list order.
func listAll[T any](s *Source, what string, it *stripe.Iter, lastResponse func(stripe.ListContainer) *stripe.APIResponse) ([]item[T], error) {
	var (
		out      []item[T]
		seen     = map[string]bool{}
		pageList stripe.ListContainer
		pageRaw  []json.RawMessage
		pageNo   int
		idx      int
	)
	// The iterator asks for the next page after the last object of the
	// current one: a first page that is empty yet claims more would make it
	// panic, a later one would end the list early. Catch both.
	if it.Err() == nil && it.List().GetListMeta().HasMore && len(rawPage(it, lastResponse)) == 0 {
		return nil, fmt.Errorf("stripe api: listing %s: page 1 is empty but has_more is true", what)
	}
	for {
		if !it.Next() {
			break
		}
		if l := it.List(); l != pageList {
			pageList, idx = l, 0
			pageNo++
			pageRaw = rawPage(it, lastResponse)
			if pageRaw == nil {
				return nil, fmt.Errorf("stripe api: listing %s: page %d: the response body is missing", what, pageNo)
			}
		}
		obj, ok := it.Current().(T)
		if !ok || idx >= len(pageRaw) {
			return nil, fmt.Errorf("stripe api: listing %s: page %d does not decode consistently", what, pageNo)
		}
		raw := pageRaw[idx]
		idx++
		var h struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &h); err != nil || h.ID == "" {
			return nil, fmt.Errorf("stripe api: listing %s: page %d: object %d has no id", what, pageNo, idx)
		}
		if err := stripesrc.CheckKeys(raw); err != nil {
			return nil, fmt.Errorf("stripe api: listing %s: page %d: %s: %w", what, pageNo, h.ID, err)
		}
		if seen[h.ID] {
			return nil, fmt.Errorf("stripe api: listing %s: %s was listed twice (pagination went wrong)", what, h.ID)
		}
		seen[h.ID] = true
		out = append(out, item[T]{id: h.ID, obj: obj, raw: raw})
	}
	if err := it.Err(); err != nil {
		return nil, s.describe(what, pageNo+1, err)
	}
	if it.List().GetListMeta().HasMore {
		return nil, fmt.Errorf("stripe api: listing %s: page %d is empty but has_more is true", what, pageNo+1)
	}
	return out, nil
}

func sortByID[T any](items []item[T]) {
	slices.SortFunc(items, func(a, b item[T]) int { return strings.Compare(a.id, b.id) })
}

func rawPage(it *stripe.Iter, lastResponse func(stripe.ListContainer) *stripe.APIResponse) []json.RawMessage {
	resp := lastResponse(it.List())
	if resp == nil {
		return nil
	}
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(resp.RawJSON, &page); err != nil {
		return nil
	}
	if page.Data == nil {
		page.Data = []json.RawMessage{}
	}
	return page.Data
}

// describe turns a failed page into an error naming Stripe, the resource,
// the page, the HTTP status and Stripe's message, with the key redacted.
func (s *Source) describe(what string, page int, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stripe api: listing %s: %w", what, err)
	}
	var se *stripe.Error
	if errors.As(err, &se) {
		attempts, msg := errorParts(s.key, se)
		if se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden {
			return fmt.Errorf("stripe api: listing %s: %w (HTTP %d): %s", what, ErrKeyRefused, se.HTTPStatusCode, msg)
		}
		return &Error{msg: fmt.Sprintf("stripe api: listing %s, page %d: HTTP %d %s%s: %s", what, page, se.HTTPStatusCode, se.Type, attempts, msg), Status: se.HTTPStatusCode, err: se}
	}
	// The text is redacted, so the chain is not kept; the class is.
	out := fmt.Errorf("stripe api: listing %s, page %d: %s", what, page, s.redact(err.Error()))
	if c := retry.ClassOf(err); c != nil {
		return retry.Mark(out, c)
	}
	return out
}

// errorParts are what an error text says of a Stripe error answer: how the
// retries ended (", gave up after ...", "" when they did not give up) and
// Stripe's message with its request id, the key redacted. For the reads'
// errors and the credits'.
func errorParts(key string, se *stripe.Error) (attempts, msg string) {
	if se.LastResponse != nil {
		if g := retry.GaveUp(se.LastResponse.Header); g != "" {
			attempts = ", " + g
		}
	}
	msg = redactKey(key, se.Msg)
	if se.RequestID != "" {
		msg += " (request " + se.RequestID + ")"
	}
	return attempts, msg
}

// Error is a Stripe API error answer, described without the key.
type Error struct {
	msg    string
	Status int // HTTP status
	err    *stripe.Error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the stripe-go error.
func (e *Error) Unwrap() error { return e.err }

// Is matches the error class of the HTTP status (retry.StatusClass).
func (e *Error) Is(target error) bool { return target != nil && target == retry.StatusClass(e.Status) }

var keyLike = regexp.MustCompile(`\b(sk|rk)_(live|test)_[0-9A-Za-z*]+`)

// redact removes the secret key, and anything shaped like a Stripe secret
// or restricted key, from text.
func (s *Source) redact(text string) string { return redactKey(s.key, text) }

// redactKey removes key, and anything shaped like a Stripe secret or
// restricted key, from text: for the reads' errors and the credits'.
func redactKey(key, text string) string {
	if key != "" {
		text = strings.ReplaceAll(text, key, "[redacted]")
	}
	return keyLike.ReplaceAllString(text, "[redacted]")
}
