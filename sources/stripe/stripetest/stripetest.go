// Package stripetest is the conformance suite every Stripe driver passes
// (sources/stripe/export, sources/stripe/api): given the same Stripe objects,
// shaped as API version 2023-10-16 renders them, every source delivers the
// same pipeline.Stripe. A driver test calls Run with a function that makes
// its source serve the objects of one case (an NDJSON export).
//
// The cases cover multi-page lists (more than 250 objects of each type),
// nulls (tax, paid_at, charge, price, email), expandable fields given as ids
// and as expanded objects, refunds and disputes linked to invoices through
// the charge, credit notes (with and without a refund, void, pre-payment),
// invoice lines with lookup keys (including invoices with more lines than a
// list embeds), canceled subscriptions, objects of unused types, and an
// empty account.
package stripetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/sourcetest"
)

// Source is what a Stripe source provides.
type Source interface {
	ReadStripe(ctx context.Context) (pipeline.Stripe, error)
}

// Case is one account: its objects as an NDJSON export and what every
// source must read from it: the data, or an error whose text contains
// every WantErr string.
type Case struct {
	Name    string
	NDJSON  []byte
	Want    pipeline.Stripe
	WantErr []string
}

// Run runs every case against the sources open returns, then checks that
// a read under a cancelled context (or one past its deadline) fails with
// the context's error. Every error must be wrapped once: the text it
// starts with (up to the first ": ") does not come again.
func Run(t *testing.T, open func(t *testing.T, ndjson []byte) Source) {
	t.Helper()
	for _, c := range append(Cases(), BadCases()...) {
		t.Run(c.Name, func(t *testing.T) {
			src := open(t, c.NDJSON)
			got, err := src.ReadStripe(t.Context())
			if c.WantErr != nil {
				sourcetest.CheckError(t, err, c.WantErr)
				return
			}
			if err != nil {
				t.Fatalf("ReadStripe: %v", err)
			}
			if d := Diff(c.Want, got); d != "" {
				t.Errorf("ReadStripe returned the wrong data:\n%s", d)
			}
		})
	}
	sourcetest.RunDoneContexts(t, func(t *testing.T, ctx context.Context) error {
		_, err := open(t, pages().NDJSON).ReadStripe(ctx)
		return err
	})
}

// Cases returns the suite's cases, freshly built.
func Cases() []Case {
	return []Case{shapes(), pages(), empty()}
}

// BadCases returns the cases every source must refuse: objects that do not
// decode as their Stripe type, or whose keys are ambiguous. Money is never
// guessed.
func BadCases() []Case {
	in := Invoice("in_bad", "cus_1", nil, "ch_1", "paid", "usd", 1200, nil, 1700000000)
	in["amount_paid"] = "1200"
	re := Refund("re_bad", "ch_1", 100, "succeeded", 1700000000)
	re["amount"] = 1.5
	// Ambiguous money: encoding/json would keep the last of the two.
	dup := bytes.Replace(ndjson([]obj{Invoice("in_dup", "cus_1", nil, "ch_1", "paid", "usd", 1500, nil, 1700000000)}),
		[]byte(`"paid_at":1700000000`), []byte(`"paid_at":1700000000,"paid_at":1900000000`), 1)
	return []Case{
		{Name: "a key twice in one object", NDJSON: dup, WantErr: []string{`"paid_at" appears twice in status_transitions`}},
		{Name: "amount_paid as a string", NDJSON: ndjson([]obj{Customer("cus_1", "a@example.com", 1690000000), in}), WantErr: []string{"amount_paid"}},
		{Name: "refund amount not an integer", NDJSON: ndjson([]obj{re}), WantErr: []string{"amount"}},
	}
}

// Normalize returns s with every slice sorted by ID and empty slices nil,
// so that two deliveries of the same data compare equal with
// reflect.DeepEqual. Prices and PriceIDs keep their order (line order).
func Normalize(s pipeline.Stripe) pipeline.Stripe {
	var out pipeline.Stripe
	out.Customers = sortedBy(s.Customers, func(c pipeline.Customer) string { return c.ID })
	out.Subscriptions = sortedBy(s.Subscriptions, func(c pipeline.Subscription) string { return c.ID })
	for i := range out.Subscriptions {
		if len(out.Subscriptions[i].PriceIDs) == 0 {
			out.Subscriptions[i].PriceIDs = nil
		}
	}
	out.Invoices = sortedBy(s.Invoices, func(c pipeline.Invoice) string { return c.ID })
	for i := range out.Invoices {
		if len(out.Invoices[i].Prices) == 0 {
			out.Invoices[i].Prices = nil
		}
	}
	out.Refunds = sortedBy(s.Refunds, func(c pipeline.Refund) string { return c.ID })
	out.Disputes = sortedBy(s.Disputes, func(c pipeline.Dispute) string { return c.ID })
	out.CreditNotes = sortedBy(s.CreditNotes, func(c pipeline.CreditNote) string { return c.ID })
	return out
}

func sortedBy[T any](in []T, id func(T) string) []T {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return out
}

// Diff describes how got differs from want after Normalize; "" when equal.
func Diff(want, got pipeline.Stripe) string {
	want, got = Normalize(want), Normalize(got)
	if reflect.DeepEqual(want, got) {
		return ""
	}
	var b strings.Builder
	diffSlice(&b, "customers", want.Customers, got.Customers, func(c pipeline.Customer) string { return c.ID })
	diffSlice(&b, "subscriptions", want.Subscriptions, got.Subscriptions, func(c pipeline.Subscription) string { return c.ID })
	diffSlice(&b, "invoices", want.Invoices, got.Invoices, func(c pipeline.Invoice) string { return c.ID })
	diffSlice(&b, "refunds", want.Refunds, got.Refunds, func(c pipeline.Refund) string { return c.ID })
	diffSlice(&b, "disputes", want.Disputes, got.Disputes, func(c pipeline.Dispute) string { return c.ID })
	diffSlice(&b, "credit notes", want.CreditNotes, got.CreditNotes, func(c pipeline.CreditNote) string { return c.ID })
	return b.String()
}

func diffSlice[T any](b *strings.Builder, what string, want, got []T, id func(T) string) {
	if len(want) != len(got) {
		fmt.Fprintf(b, "%s: want %d, got %d\n", what, len(want), len(got))
	}
	w := map[string]T{}
	for _, v := range want {
		w[id(v)] = v
	}
	shown := 0
	for _, g := range got {
		wv, ok := w[id(g)]
		switch {
		case !ok:
			fmt.Fprintf(b, "%s: unexpected %+v\n", what, g)
		case !reflect.DeepEqual(wv, g):
			fmt.Fprintf(b, "%s %s:\n  want %+v\n   got %+v\n", what, id(g), wv, g)
		default:
			delete(w, id(g))
			continue
		}
		delete(w, id(g))
		if shown++; shown > 10 {
			fmt.Fprintf(b, "%s: ...\n", what)
			return
		}
	}
	for k := range w {
		fmt.Fprintf(b, "%s: missing %s\n", what, k)
		if shown++; shown > 10 {
			return
		}
	}
}

// obj is a JSON object under construction.
type obj = map[string]any

func ndjson(objs []obj) []byte {
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			panic(err) // only literal maps built here
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// Customer returns an API-shaped customer (email nil renders null).
func Customer(id string, email any, created int64) map[string]any {
	return obj{
		"id": id, "object": "customer", "address": nil, "balance": 0, "created": created,
		"currency": "usd", "default_source": nil, "delinquent": false, "description": nil,
		"discount": nil, "email": email, "invoice_prefix": strings.ToUpper(id[len(id)-4:]),
		"invoice_settings": obj{"custom_fields": nil, "default_payment_method": nil, "footer": nil, "rendering_options": nil},
		"livemode":         false, "metadata": obj{}, "name": nil, "phone": nil,
		"preferred_locales": []any{}, "shipping": nil, "tax_exempt": "none", "test_clock": nil,
	}
}

// PriceObject returns an API-shaped price (lookupKey nil renders null).
func PriceObject(id string, lookupKey any, amount int64) map[string]any {
	return obj{
		"id": id, "object": "price", "active": true, "billing_scheme": "per_unit", "created": 1690000000,
		"currency": "usd", "livemode": false, "lookup_key": lookupKey, "metadata": obj{}, "nickname": nil,
		"product": "prod_" + id, "recurring": obj{"aggregate_usage": nil, "interval": "month", "interval_count": 1, "trial_period_days": nil, "usage_type": "licensed"},
		"tax_behavior": "unspecified", "tiers_mode": nil, "transform_quantity": nil, "type": "recurring",
		"unit_amount": amount, "unit_amount_decimal": fmt.Sprint(amount),
	}
}

// Subscription returns an API-shaped subscription with one item per price.
func Subscription(id string, customer any, status string, created int64, prices ...map[string]any) map[string]any {
	items := make([]any, 0, len(prices))
	for i, p := range prices {
		items = append(items, obj{
			"id": fmt.Sprintf("si_%s_%d", id, i), "object": "subscription_item", "billing_thresholds": nil,
			"created": created, "metadata": obj{}, "price": p, "quantity": 1, "subscription": id, "tax_rates": []any{},
		})
	}
	return obj{
		"id": id, "object": "subscription", "application": nil, "billing_cycle_anchor": created,
		"cancel_at": nil, "cancel_at_period_end": false, "canceled_at": nil, "collection_method": "charge_automatically",
		"created": created, "currency": "usd", "current_period_end": created + 2592000, "current_period_start": created,
		"customer": customer, "default_payment_method": nil, "ended_at": nil,
		"items": obj{"object": "list", "data": items, "has_more": false, "total_count": len(items),
			"url": "/v1/subscription_items?subscription=" + id},
		"latest_invoice": nil, "livemode": false, "metadata": obj{}, "start_date": created, "status": status,
		"trial_end": nil, "trial_start": nil,
	}
}

// Line returns an API-shaped invoice line item (price nil renders null).
func Line(id string, amount int64, price any) map[string]any {
	return obj{
		"id": id, "object": "line_item", "amount": amount, "amount_excluding_tax": amount, "currency": "usd",
		"description": "1 × Plan", "discount_amounts": []any{}, "discountable": true, "discounts": []any{},
		"livemode": false, "metadata": obj{}, "period": obj{"end": 1700000000, "start": 1697000000},
		"plan": nil, "price": price, "proration": false, "quantity": 1, "type": "subscription",
	}
}

// Invoice returns an API-shaped invoice. customer, subscription, charge, tax
// and paidAt may be nil (rendered null); customer and charge may also be
// expanded objects.
func Invoice(id string, customer, subscription, charge any, status, currency string, amountPaid int64, tax, paidAt any, lines ...map[string]any) map[string]any {
	data := make([]any, 0, len(lines))
	for _, l := range lines {
		data = append(data, l)
	}
	return obj{
		"id": id, "object": "invoice", "account_country": "US", "amount_due": amountPaid, "amount_paid": amountPaid,
		"amount_remaining": 0, "attempt_count": 1, "attempted": true, "billing_reason": "subscription_cycle",
		"charge": charge, "collection_method": "charge_automatically", "created": 1697000000, "currency": currency,
		"customer": customer, "customer_email": nil, "default_payment_method": nil, "description": nil,
		"hosted_invoice_url": nil, "lines": obj{"object": "list", "data": data, "has_more": false,
			"total_count": len(data), "url": "/v1/invoices/" + id + "/lines"},
		"livemode": false, "metadata": obj{}, "number": nil, "paid": status == "paid", "paid_out_of_band": false,
		"payment_intent": nil, "status": status, "status_transitions": obj{"finalized_at": 1697000000,
			"marked_uncollectible_at": nil, "paid_at": paidAt, "voided_at": nil},
		"subscription": subscription, "subtotal": amountPaid, "tax": tax, "total": amountPaid,
	}
}

// Refund returns an API-shaped refund (charge may be nil or expanded).
func Refund(id string, charge any, amount int64, status string, created int64) map[string]any {
	return obj{
		"id": id, "object": "refund", "amount": amount, "balance_transaction": nil, "charge": charge,
		"created": created, "currency": "usd", "metadata": obj{}, "payment_intent": nil, "reason": nil,
		"receipt_number": nil, "source_transfer_reversal": nil, "status": status, "transfer_reversal": nil,
	}
}

// Dispute returns an API-shaped dispute (charge may be nil or expanded).
func Dispute(id string, charge any, amount int64, currency, status string, created int64) map[string]any {
	return obj{
		"id": id, "object": "dispute", "amount": amount, "balance_transactions": []any{}, "charge": charge,
		"created": created, "currency": currency,
		"evidence": obj{"access_activity_log": nil, "billing_address": nil, "cancellation_policy": nil,
			"customer_email_address": nil, "customer_name": nil, "product_description": nil, "receipt": nil,
			"refund_policy": nil, "service_date": nil, "shipping_tracking_number": nil, "uncategorized_text": nil},
		"evidence_details":     obj{"due_by": created + 7*86400, "has_evidence": false, "past_due": false, "submission_count": 0},
		"is_charge_refundable": false, "livemode": false, "metadata": obj{}, "payment_intent": nil,
		"payment_method_details": obj{"card": obj{"brand": "visa", "network_reason_code": "10.4"}, "type": "card"},
		"reason":                 "fraudulent", "status": status,
	}
}

// CreditNote returns an API-shaped credit note (invoice may be expanded,
// refund nil or expanded).
func CreditNote(id string, invoice, refund any, typ, status string, amount, created int64) map[string]any {
	var voided any
	if status == "void" {
		voided = created + 3600
	}
	return obj{
		"id": id, "object": "credit_note", "amount": amount, "amount_shipping": 0, "created": created,
		"currency": "usd", "customer": "cus_A0001", "customer_balance_transaction": nil, "discount_amount": 0,
		"discount_amounts": []any{}, "effective_at": nil, "invoice": invoice,
		"lines":    obj{"object": "list", "data": []any{}, "has_more": false, "url": "/v1/credit_notes/" + id + "/lines"},
		"livemode": false, "memo": nil, "metadata": obj{}, "number": "ABCD-0001-CN-01", "out_of_band_amount": nil,
		"pdf": "https://pay.stripe.com/credit_notes/" + id + "/pdf", "reason": "product_unsatisfactory",
		"refund": refund, "shipping_cost": nil, "status": status, "subtotal": amount, "subtotal_excluding_tax": amount,
		"tax_amounts": []any{}, "total": amount, "total_excluding_tax": amount, "type": typ, "voided_at": voided,
	}
}

// shapes covers every field shape the sources must handle.
func shapes() Case {
	pro := PriceObject("price_pro_m", "pro_monthly", 2000)
	team := PriceObject("price_team_y", "team_yearly", 24000)
	legacy := PriceObject("price_legacy", nil, 900)
	many := make([]map[string]any, 0, 23)
	wantMany := make([]pipeline.Price, 0, 23)
	for i := range 23 { // more than a list embeds (10)
		many = append(many, Line(fmt.Sprintf("il_many_%02d", i), 100, pro))
		wantMany = append(wantMany, pipeline.Price{ID: "price_pro_m", LookupKey: "pro_monthly"})
	}
	objs := []obj{
		Customer("cus_A0001", "Alice@Example.com", 1690000001),
		Customer("cus_B0002", nil, 1690000002),
		Customer("cus_C0003", "carol@example.org", 1690000003),
		Subscription("sub_A", "cus_A0001", "active", 1690000100, pro),
		Subscription("sub_B", "cus_B0002", "canceled", 1690000200, team, legacy),
		Subscription("sub_C", "cus_C0003", "past_due", 1690000300),
		Invoice("in_paid", "cus_A0001", "sub_A", "ch_paid", "paid", "usd", 2000, 0, 1697000100,
			Line("il_1", 2000, pro)),
		Invoice("in_nulls", "cus_B0002", nil, nil, "paid", "EUR", 0, nil, nil,
			Line("il_2", 0, nil), Line("il_3", 900, legacy)),
		Invoice("in_tax", "cus_C0003", "sub_C", "ch_tax", "paid", "usd", 26400, 2400, 1697000300,
			Line("il_4", 24000, team)),
		Invoice("in_open", "cus_C0003", "sub_C", nil, "open", "usd", 0, nil, nil, Line("il_5", 2000, pro)),
		Invoice("in_expanded", Customer("cus_A0001", "Alice@Example.com", 1690000001), obj{"id": "sub_A", "object": "subscription"},
			obj{"id": "ch_exp", "object": "charge", "amount": 2000}, "paid", "usd", 2000, 0, 1697000400, Line("il_6", 2000, pro)),
		Invoice("in_many", "cus_A0001", "sub_A", "ch_many", "paid", "usd", 2300, 0, 1697000500, many...),
		Refund("re_1", "ch_paid", 2000, "succeeded", 1697100000),
		Refund("re_2", "ch_tax", 1000, "pending", 1697100001),
		Refund("re_3", nil, 500, "failed", 1697100002),
		Refund("re_4", obj{"id": "ch_exp", "object": "charge"}, 2000, "succeeded", 1697100003),
		Dispute("dp_lost", "ch_paid", 2000, "usd", "lost", 1697200000),
		Dispute("dp_inquiry", "ch_tax", 26400, "usd", "warning_needs_response", 1697200001),
		Dispute("dp_nocharge", nil, 100, "EUR", "won", 1697200002),
		Dispute("dp_expanded", obj{"id": "ch_exp", "object": "charge", "amount": 2000}, 700, "usd", "under_review", 1697200003),
		CreditNote("cn_refund", "in_tax", "re_2", "post_payment", "issued", 1000, 1697100001),
		CreditNote("cn_plain", "in_many", nil, "post_payment", "issued", 300, 1697300000),
		CreditNote("cn_void", "in_paid", nil, "post_payment", "void", 2000, 1697300001),
		CreditNote("cn_pre", obj{"id": "in_open", "object": "invoice"}, nil, "pre_payment", "issued", 500, 1697300002),
		CreditNote("cn_expanded", "in_expanded", obj{"id": "re_4", "object": "refund", "amount": 2000}, "post_payment", "issued", 2000, 1697100003),
		{"id": "ch_paid", "object": "charge", "amount": 2000, "currency": "usd"}, // not read
	}
	want := pipeline.Stripe{
		Customers: []pipeline.Customer{
			{ID: "cus_A0001", Email: "Alice@Example.com"}, {ID: "cus_B0002"}, {ID: "cus_C0003", Email: "carol@example.org"},
		},
		Subscriptions: []pipeline.Subscription{
			{ID: "sub_A", Customer: "cus_A0001", Status: "active", Created: 1690000100, PriceIDs: []string{"price_pro_m"}},
			{ID: "sub_B", Customer: "cus_B0002", Status: "canceled", Created: 1690000200, PriceIDs: []string{"price_team_y", "price_legacy"}},
			{ID: "sub_C", Customer: "cus_C0003", Status: "past_due", Created: 1690000300},
		},
		Invoices: []pipeline.Invoice{
			{ID: "in_paid", Customer: "cus_A0001", Subscription: "sub_A", Charge: "ch_paid", Status: "paid", Currency: "usd",
				AmountPaid: 2000, PaidAt: 1697000100, Prices: []pipeline.Price{{ID: "price_pro_m", LookupKey: "pro_monthly"}}},
			{ID: "in_nulls", Customer: "cus_B0002", Status: "paid", Currency: "eur",
				Prices: []pipeline.Price{{ID: "price_legacy"}}},
			{ID: "in_tax", Customer: "cus_C0003", Subscription: "sub_C", Charge: "ch_tax", Status: "paid", Currency: "usd",
				AmountPaid: 26400, Tax: 2400, PaidAt: 1697000300, Prices: []pipeline.Price{{ID: "price_team_y", LookupKey: "team_yearly"}}},
			{ID: "in_open", Customer: "cus_C0003", Subscription: "sub_C", Status: "open", Currency: "usd",
				Prices: []pipeline.Price{{ID: "price_pro_m", LookupKey: "pro_monthly"}}},
			{ID: "in_expanded", Customer: "cus_A0001", Subscription: "sub_A", Charge: "ch_exp", Status: "paid", Currency: "usd",
				AmountPaid: 2000, PaidAt: 1697000400, Prices: []pipeline.Price{{ID: "price_pro_m", LookupKey: "pro_monthly"}}},
			{ID: "in_many", Customer: "cus_A0001", Subscription: "sub_A", Charge: "ch_many", Status: "paid", Currency: "usd",
				AmountPaid: 2300, PaidAt: 1697000500, Prices: wantMany},
		},
		Refunds: []pipeline.Refund{
			{ID: "re_1", Amount: 2000, Status: "succeeded", Created: 1697100000, Charge: "ch_paid"},
			{ID: "re_2", Amount: 1000, Status: "pending", Created: 1697100001, Charge: "ch_tax"},
			{ID: "re_3", Amount: 500, Status: "failed", Created: 1697100002},
			{ID: "re_4", Amount: 2000, Status: "succeeded", Created: 1697100003, Charge: "ch_exp"},
		},
		Disputes: []pipeline.Dispute{
			{ID: "dp_lost", Charge: "ch_paid", Amount: 2000, Currency: "usd", Status: "lost", Created: 1697200000},
			{ID: "dp_inquiry", Charge: "ch_tax", Amount: 26400, Currency: "usd", Status: "warning_needs_response", Created: 1697200001},
			{ID: "dp_nocharge", Amount: 100, Currency: "eur", Status: "won", Created: 1697200002},
			{ID: "dp_expanded", Charge: "ch_exp", Amount: 700, Currency: "usd", Status: "under_review", Created: 1697200003},
		},
		CreditNotes: []pipeline.CreditNote{
			{ID: "cn_refund", Invoice: "in_tax", Type: "post_payment", Status: "issued", Amount: 1000, Refund: "re_2", Created: 1697100001},
			{ID: "cn_plain", Invoice: "in_many", Type: "post_payment", Status: "issued", Amount: 300, Created: 1697300000},
			{ID: "cn_void", Invoice: "in_paid", Type: "post_payment", Status: "void", Amount: 2000, Created: 1697300001},
			{ID: "cn_pre", Invoice: "in_open", Type: "pre_payment", Status: "issued", Amount: 500, Created: 1697300002},
			{ID: "cn_expanded", Invoice: "in_expanded", Type: "post_payment", Status: "issued", Amount: 2000, Refund: "re_4", Created: 1697100003},
		},
	}
	return Case{Name: "shapes", NDJSON: ndjson(objs), Want: want}
}

// PageSizes are the object counts of the "pages" case: each more than two
// full pages of 100.
var PageSizes = struct{ Customers, Subscriptions, Invoices, Refunds, Disputes, CreditNotes int }{263, 251, 257, 254, 205, 212}

// pages is an account large enough that every list takes three pages, with
// one invoice whose lines take two pages of their own.
func pages() Case {
	var objs []obj
	var want pipeline.Stripe
	prices := []map[string]any{PriceObject("price_basic", "basic_monthly", 500), PriceObject("price_plus", nil, 1500)}
	keys := []string{"basic_monthly", ""}
	for i := range PageSizes.Customers {
		id := fmt.Sprintf("cus_P%05d", i)
		email := fmt.Sprintf("user%d@example.com", i)
		objs = append(objs, Customer(id, email, int64(1690000000+i)))
		want.Customers = append(want.Customers, pipeline.Customer{ID: id, Email: email})
	}
	statuses := []string{"active", "canceled", "trialing", "incomplete_expired", "unpaid"}
	for i := range PageSizes.Subscriptions {
		id := fmt.Sprintf("sub_P%05d", i)
		cus := fmt.Sprintf("cus_P%05d", i%PageSizes.Customers)
		st := statuses[i%len(statuses)]
		p := i % 2
		objs = append(objs, Subscription(id, cus, st, int64(1691000000+i), prices[p]))
		want.Subscriptions = append(want.Subscriptions, pipeline.Subscription{
			ID: id, Customer: cus, Status: st, Created: int64(1691000000 + i), PriceIDs: []string{prices[p]["id"].(string)}})
	}
	for i := range PageSizes.Invoices {
		id := fmt.Sprintf("in_P%05d", i)
		cus := fmt.Sprintf("cus_P%05d", i%PageSizes.Customers)
		sub := fmt.Sprintf("sub_P%05d", i%PageSizes.Subscriptions)
		ch := fmt.Sprintf("ch_P%05d", i)
		p := i % 2
		nLines := 1
		if i == 7 {
			nLines = 130 // two pages of invoice lines
		}
		var lines []map[string]any
		var wp []pipeline.Price
		for l := range nLines {
			lines = append(lines, Line(fmt.Sprintf("il_P%05d_%03d", i, l), 500, prices[p]))
			wp = append(wp, pipeline.Price{ID: prices[p]["id"].(string), LookupKey: keys[p]})
		}
		amount := int64(500 * nLines)
		objs = append(objs, Invoice(id, cus, sub, ch, "paid", "usd", amount, int64(i%3*10), int64(1697000000+i), lines...))
		want.Invoices = append(want.Invoices, pipeline.Invoice{ID: id, Customer: cus, Subscription: sub, Charge: ch,
			Status: "paid", Currency: "usd", AmountPaid: amount, Tax: int64(i % 3 * 10), PaidAt: int64(1697000000 + i), Prices: wp})
	}
	for i := range PageSizes.Refunds {
		id := fmt.Sprintf("re_P%05d", i)
		ch := fmt.Sprintf("ch_P%05d", i%PageSizes.Invoices)
		objs = append(objs, Refund(id, ch, int64(100+i), "succeeded", int64(1698000000+i)))
		want.Refunds = append(want.Refunds, pipeline.Refund{ID: id, Amount: int64(100 + i), Status: "succeeded",
			Created: int64(1698000000 + i), Charge: ch})
	}
	disputeStatuses := []string{"needs_response", "under_review", "lost", "won", "warning_needs_response", "warning_under_review", "warning_closed"}
	for i := range PageSizes.Disputes {
		id := fmt.Sprintf("dp_P%05d", i)
		ch := fmt.Sprintf("ch_P%05d", i%PageSizes.Invoices)
		st := disputeStatuses[i%len(disputeStatuses)]
		objs = append(objs, Dispute(id, ch, int64(50+i), "usd", st, int64(1698500000+i)))
		want.Disputes = append(want.Disputes, pipeline.Dispute{ID: id, Charge: ch, Amount: int64(50 + i), Currency: "usd",
			Status: st, Created: int64(1698500000 + i)})
	}
	for i := range PageSizes.CreditNotes {
		id := fmt.Sprintf("cn_P%05d", i)
		in := fmt.Sprintf("in_P%05d", i%PageSizes.Invoices)
		var refund any
		wantRefund := ""
		if i%3 == 0 {
			wantRefund = fmt.Sprintf("re_P%05d", i%PageSizes.Refunds)
			refund = wantRefund
		}
		objs = append(objs, CreditNote(id, in, refund, "post_payment", "issued", int64(20+i), int64(1699000000+i)))
		want.CreditNotes = append(want.CreditNotes, pipeline.CreditNote{ID: id, Invoice: in, Type: "post_payment", Status: "issued",
			Amount: int64(20 + i), Refund: wantRefund, Created: int64(1699000000 + i)})
	}
	return Case{Name: "pages", NDJSON: ndjson(objs), Want: want}
}

func empty() Case { return Case{Name: "empty", NDJSON: nil} }
