package pipeline

import "time"

// Status is a cycle's state at asOf (SPEC 2.6).
type Status string

// The cycle statuses.
const (
	Scheduled    Status = "Scheduled"
	Active       Status = "Active"
	Exhausted    Status = "Exhausted" // rev-share-cap, active, pool remaining 0
	AwardsReview Status = "AwardsReview"
	Closed       Status = "Closed"
)

// Outcome is what became of one referrals row (SPEC 2.1).
type Outcome string

// The outcomes.
const (
	Quarantined Outcome = "quarantined"
	Excluded    Outcome = "excluded"
	Valid       Outcome = "valid"
)

// Reason codes (SPEC 2.1 and 2.7). Every decision that is not a reward
// carries exactly one.
const (
	// quarantined
	ReasonInvalidEmail     = "invalid_email"
	ReasonUnknownRefcode   = "unknown_refcode"
	ReasonInvalidTimestamp = "invalid_timestamp"
	// excluded
	ReasonSelfReferral     = "self_referral"
	ReasonDuplicateReferee = "duplicate_referee"
	// converted, not eligible
	ReasonPendingHold          = "pending_hold"
	ReasonReferrerDisqualified = "referrer_disqualified"
	ReasonAlreadyRewarded      = "already_rewarded"
	// valid, converts in no cycle
	ReasonNoCustomer               = "no_customer"
	ReasonNoPaidInvoice            = "no_paid_invoice"
	ReasonPaidBeforeReferral       = "paid_before_referral"
	ReasonRefunded                 = "refunded"
	ReasonDisputed                 = "disputed"
	ReasonCurrencyMismatch         = "currency_mismatch"
	ReasonPlanNotEligible          = "plan_not_eligible"
	ReasonOutsideAttributionWindow = "outside_attribution_window"
	ReasonOutsideCycles            = "outside_cycles"
)

// Result is everything a run computes. Every slice is in a canonical order
// that does not depend on the order of the inputs.
type Result struct {
	AsOf      time.Time
	Cycles    []CycleResult      // startTime ascending
	Decisions []ReferralDecision // one per referrals row; raw email, refcode, referred_at bytewise
	Referrers []User             // every users row, refcode ascending
	// Settled is the award drift of every settled cycle (ApplySettled),
	// cycle id order; private.
	Settled []SettledResult
}

// CycleResult is one cycle's leaderboard, awards and accounting.
type CycleResult struct {
	Cycle              Cycle
	Status             Status
	IsFinal            bool
	SettlesAt          time.Time
	AwardPoolRemaining int64
	Totals             Totals
	Leaderboard        []Entry          // ranked referrers (revenue > 0), rank order
	Unranked           []Entry          // every other users refcode, refcode ascending, Rank 0
	Events             []AccountingLine // revenue events, (paid_at, invoice id) order
}

// Totals are a cycle's control totals. Conversions and Revenue include the
// pending ones; PendingConversions and PendingRevenue are the pending part.
type Totals struct {
	Referrals          int64
	Conversions        int64
	PendingConversions int64
	Revenue            int64
	PendingRevenue     int64
	RankedReferrers    int64
	QualifiedReferrers int64
	Awarded            int64
}

// Entry is one referrer's line in a cycle.
type Entry struct {
	Rank               int // 1-based; 0 = unranked
	Refcode            string
	Score              int64 // pie-split: conversions or revenue; rev-share-cap: revenue
	Referrals          int64
	Conversions        int64 // including pending
	PendingConversions int64
	Revenue            int64 // including pending
	PendingRevenue     int64
	ScoreReachedAt     int64 // Unix seconds; 0 = never
	Qualified          bool
	// FinalScoreBoost = BoostNum / BoostDen (pie-split display; 0/1 when
	// not qualified or rev-share-cap).
	BoostNum, BoostDen int64
	Award              int64
	AdminAction        *AdminAction
}

// AccountingLine is one revenue event of a cycle (SPEC 2.5): a qualifying
// payment with paid_at in the cycle's window.
type AccountingLine struct {
	InvoiceID    string
	CustomerID   string
	Refcode      string
	RefereeEmail string // raw referral row email (private outputs only)
	PaidAt       int64  // Unix seconds
	// Net = Gross - Refunded - Credited - Disputed, floored at 0 (SPEC 2.2):
	// the parts show finance why a net is what it is.
	Gross              int64 // amount_paid - tax
	Refunded           int64 // R: succeeded refunds on the invoice's charge, created by asOf
	Credited           int64 // N: issued post-payment credit notes less the refunds they name
	Disputed           int64 // D: needs_response, under_review and lost disputes on the charge
	Net                int64
	Pending            bool
	AccumulatedRevenue int64 // the referrer's revenue in the cycle after this event
	PoolBefore         int64 // rev-share-cap: pool remaining before the claim; pie-split: 0
	Claim              int64 // rev-share-cap: what this event claimed; pie-split: 0
}

// ReferralDecision is the one outcome of one referrals row.
type ReferralDecision struct {
	Row            ReferralRow
	CanonicalEmail string // "" when the email is invalid
	ReferredAt     int64  // Unix seconds; 0 when invalid
	Outcome        Outcome
	// Reason is the quarantine or exclusion reason, or for a valid row that
	// converts in no cycle the reason that stopped it; "" otherwise.
	Reason      string
	Conversions []Conversion // valid rows: one per cycle it converts in, startTime ascending
	// Clawback marks a clawback candidate (SPEC 2.7): a valid row whose
	// rewarded flag is true but that converts in no cycle of the set. It
	// is private (warehouse, finance reports, run summary).
	Clawback bool
}

// Conversion is a valid referral's conversion in one cycle and whether it
// earns a reward (SPEC 2.7).
type Conversion struct {
	CycleID        string
	ConvertedAt    int64  // paid_at of the minPaymentsToConvert-th qualifying payment
	InvoiceID      string // that payment's invoice
	Pending        bool
	RewardEligible bool
	Reason         string // "" when eligible; pending_hold, referrer_disqualified or already_rewarded
}
