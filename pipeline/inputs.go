package pipeline

// Inputs is everything a run reads, as the sources deliver it: raw, in any
// order. The computation never depends on the order of any slice.
type Inputs struct {
	Referrals Referrals
	Stripe    Stripe
}

// Referrals is the referrals service's database (SPEC 1.1).
type Referrals struct {
	Users []User
	Rows  []ReferralRow
	// Notes is what the source noticed while reading without failing
	// (rows that changed while it paged), one sentence each. They go to the
	// run's log, manifest and runs table; the computation ignores them.
	Notes []string
}

// User is one users row: a referrer and the refcode it shares.
type User struct {
	Email   string // raw, as stored ("" when NULL)
	Refcode string // "" when NULL
}

// ReferralRow is one referrals row: a referee that signed up with a refcode.
// Fields hold the stored values untouched; validation is the pipeline's job,
// so that a bad row becomes a quarantine decision, never a lost row.
type ReferralRow struct {
	Email        string // raw referee email ("" when NULL)
	Refcode      string // "" when NULL
	ReferredAt   string // raw text: "YYYY-MM-DD HH:MM:SS" (UTC) or RFC 3339; "" when NULL
	SelectedPlan string // "" when NULL or the column is absent
	Rewarded     bool   // false when NULL or the column is absent
}

// Stripe is the Stripe account's data (SPEC 1.2), as API version 2023-10-16
// renders it, reduced to the fields the rules and the warehouse use.
type Stripe struct {
	Customers     []Customer
	Subscriptions []Subscription
	Invoices      []Invoice
	Refunds       []Refund
	Disputes      []Dispute
	CreditNotes   []CreditNote
	// Notes is what the source noticed while reading without failing
	// (objects of types it skipped), one sentence each; as Referrals.Notes.
	Notes []string
}

// Customer is a Stripe customer.
type Customer struct {
	ID    string
	Email string // raw ("" when none)
}

// Invoice is a Stripe invoice with the prices of its lines.
type Invoice struct {
	ID           string
	Customer     string
	Subscription string // "" when none
	Charge       string // "" when none
	Status       string // draft, open, paid, uncollectible, void
	Currency     string // lowercase ISO code
	AmountPaid   int64  // minor units
	Tax          int64  // minor units (0 when null)
	PaidAt       int64  // status_transitions.paid_at, Unix seconds; 0 when unset
	Prices       []Price
}

// Price identifies the price of one invoice line.
type Price struct {
	ID        string
	LookupKey string // "" when none
}

// Refund is a Stripe refund, joined to invoices through its charge.
type Refund struct {
	ID      string
	Amount  int64  // minor units
	Status  string // pending, requires_action, succeeded, failed, canceled
	Created int64  // Unix seconds
	Charge  string
}

// Dispute is a Stripe dispute (a chargeback or an inquiry), joined to
// invoices through its charge.
type Dispute struct {
	ID       string
	Charge   string
	Amount   int64  // minor units
	Currency string // lowercase ISO code
	// Status: warning_needs_response, warning_under_review, warning_closed,
	// needs_response, under_review, won, lost.
	Status  string
	Created int64 // Unix seconds
}

// CreditNote is a Stripe credit note, joined to invoices through its
// invoice.
type CreditNote struct {
	ID      string
	Invoice string
	Type    string // pre_payment, post_payment
	Status  string // issued, void
	Amount  int64  // minor units, tax included
	Refund  string // the refund it created or names; "" when none
	Created int64  // Unix seconds
}

// Subscription is a Stripe subscription. The money rules use invoices; the
// subscriptions are carried to the warehouse for finance.
type Subscription struct {
	ID       string
	Customer string
	Status   string
	Created  int64    // Unix seconds
	PriceIDs []string // the prices of its items
}
