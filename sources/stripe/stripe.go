// Package stripe holds what every Stripe driver shares (SPEC 1.2): the
// converters that reduce stripe-go v76 objects (API version 2023-10-16) to
// the pipeline's types. The drivers live under it: export (the NDJSON export
// file) and api (the live API); stripetest is the conformance suite both
// pass, and stripefake a local fake of the Stripe API.
package stripe

import (
	"strings"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/stripe/stripe-go/v76"
)

// Customer reduces a stripe-go customer to the pipeline's type.
func Customer(c *stripe.Customer) pipeline.Customer {
	if c == nil {
		return pipeline.Customer{}
	}
	return pipeline.Customer{ID: c.ID, Email: c.Email}
}

// Subscription reduces a stripe-go subscription to the pipeline's type. Its
// PriceIDs are the prices of its items, in item order; items without a
// price are left out.
func Subscription(s *stripe.Subscription) pipeline.Subscription {
	if s == nil {
		return pipeline.Subscription{}
	}
	out := pipeline.Subscription{
		ID:      s.ID,
		Status:  string(s.Status),
		Created: s.Created,
	}
	if s.Customer != nil {
		out.Customer = s.Customer.ID
	}
	if s.Items != nil {
		for _, it := range s.Items.Data {
			if it != nil && it.Price != nil && it.Price.ID != "" {
				out.PriceIDs = append(out.PriceIDs, it.Price.ID)
			}
		}
	}
	return out
}

// Invoice reduces a stripe-go invoice to the pipeline's type. Null tax and
// null status_transitions.paid_at become 0; a null customer, subscription or
// charge becomes ""; lines whose price is null are left out of Prices.
func Invoice(in *stripe.Invoice) pipeline.Invoice {
	if in == nil {
		return pipeline.Invoice{}
	}
	out := pipeline.Invoice{
		ID:         in.ID,
		Status:     string(in.Status),
		Currency:   strings.ToLower(string(in.Currency)),
		AmountPaid: in.AmountPaid,
		Tax:        in.Tax,
		Charge:     chargeID(in.Charge),
	}
	if in.Customer != nil {
		out.Customer = in.Customer.ID
	}
	if in.Subscription != nil {
		out.Subscription = in.Subscription.ID
	}
	if in.StatusTransitions != nil {
		out.PaidAt = in.StatusTransitions.PaidAt
	}
	if in.Lines != nil {
		for _, l := range in.Lines.Data {
			if l != nil && l.Price != nil {
				out.Prices = append(out.Prices, pipeline.Price{ID: l.Price.ID, LookupKey: l.Price.LookupKey})
			}
		}
	}
	return out
}

// Refund reduces a stripe-go refund to the pipeline's type; a null charge
// becomes "".
func Refund(r *stripe.Refund) pipeline.Refund {
	if r == nil {
		return pipeline.Refund{}
	}
	return pipeline.Refund{
		ID:      r.ID,
		Amount:  r.Amount,
		Charge:  chargeID(r.Charge),
		Status:  string(r.Status),
		Created: r.Created,
	}
}

// Dispute reduces a stripe-go dispute to the pipeline's type; a null charge
// becomes "" and the currency is lower-cased, as for invoices.
func Dispute(d *stripe.Dispute) pipeline.Dispute {
	if d == nil {
		return pipeline.Dispute{}
	}
	return pipeline.Dispute{
		ID:       d.ID,
		Amount:   d.Amount,
		Currency: strings.ToLower(string(d.Currency)),
		Charge:   chargeID(d.Charge),
		Status:   string(d.Status),
		Created:  d.Created,
	}
}

// CreditNote reduces a stripe-go credit note to the pipeline's type; a null
// invoice or refund becomes "".
func CreditNote(c *stripe.CreditNote) pipeline.CreditNote {
	if c == nil {
		return pipeline.CreditNote{}
	}
	out := pipeline.CreditNote{
		ID:      c.ID,
		Type:    string(c.Type),
		Status:  string(c.Status),
		Amount:  c.Amount,
		Created: c.Created,
	}
	if c.Invoice != nil {
		out.Invoice = c.Invoice.ID
	}
	if c.Refund != nil {
		out.Refund = c.Refund.ID
	}
	return out
}

// chargeID is the id of a charge an object refers to; "" when it is null.
func chargeID(c *stripe.Charge) string {
	if c == nil {
		return ""
	}
	return c.ID
}
