// Package warehouse defines finance's warehouse tables (SPEC 3.2) as Go row
// types, converts a run's result into them, and holds what every warehouse
// driver (sinks/sqlite, sinks/bigquery) shares, including the conformance
// suite in warehousetest.
//
// The struct tags are the schema: `bigquery` names the column (and is what
// bigquery.InferSchema reads), `json` is the same name for newline-delimited
// JSON loads. Every row carries snapshot_id and snapshot_date; tables are
// partitioned by day on snapshot_date, and writing a snapshot replaces the
// rows of its day.
package warehouse

import (
	"iter"
	"time"

	"cloud.google.com/go/civil"
)

// Snapshot is one run's rows for every table: one typed sequence per
// table, produced when a driver reads the table (FromResult builds them
// from a run's result, one row at a time, so the rows never all exist at
// once). A sequence yields pointers to rows that stay valid only until the
// next row is asked for (a generator may reuse one variable; readers copy
// what they keep) and must not be modified; it may be ranged over any
// number of times and yields the same rows each time; sequences of
// different tables may be read at the same time (the SQLite driver encodes
// every table in a goroutine of its own). A nil sequence is a table with
// no rows. Drivers read a table generically with Rows, which
// also checks each row's snapshot_date.
type Snapshot struct {
	Date               civil.Date // the partition: asOf's UTC date
	Runs               iter.Seq[*Run]
	CycleSummaries     iter.Seq[*CycleSummary]
	LeaderboardEntries iter.Seq[*LeaderboardEntry]
	ReferralDecisions  iter.Seq[*ReferralDecision]
	PaymentAccounting  iter.Seq[*PaymentAccounting]
	Subscriptions      iter.Seq[*Subscription]
}

// Values yields pointers to rows' elements: a table's sequence over rows
// held in a slice.
func Values[T any](rows []T) iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for i := range rows {
			if !yield(&rows[i]) {
				return
			}
		}
	}
}

// Table names.
const (
	TableRuns               = "runs"
	TableCycleSummaries     = "cycle_summaries"
	TableLeaderboardEntries = "leaderboard_entries"
	TableReferralDecisions  = "referral_decisions"
	TablePaymentAccounting  = "payment_accounting"
	TableSubscriptions      = "subscriptions"
)

// Run is one row per run.
type Run struct {
	SnapshotID     string     `bigquery:"snapshot_id" json:"snapshot_id"`
	SnapshotDate   civil.Date `bigquery:"snapshot_date" json:"snapshot_date"`
	AsOf           time.Time  `bigquery:"as_of" json:"as_of"`
	CodeVersion    string     `bigquery:"code_version" json:"code_version"`
	CycleSetSHA256 string     `bigquery:"cycle_set_sha256" json:"cycle_set_sha256"`
	InputsSHA256   string     `bigquery:"inputs_sha256" json:"inputs_sha256"`
	Users          int64      `bigquery:"users" json:"users"`
	Referrals      int64      `bigquery:"referrals" json:"referrals"`
	Customers      int64      `bigquery:"customers" json:"customers"`
	Subscriptions  int64      `bigquery:"subscriptions" json:"subscriptions"`
	Invoices       int64      `bigquery:"invoices" json:"invoices"`
	Refunds        int64      `bigquery:"refunds" json:"refunds"`
	Cycles         int64      `bigquery:"cycles" json:"cycles"`
	Notes          []string   `bigquery:"notes" json:"notes"`
	Disputes       int64      `bigquery:"disputes" json:"disputes"`
	CreditNotes    int64      `bigquery:"credit_notes" json:"credit_notes"`
	// ClawbackCandidates counts the referral_decisions rows with clawback.
	ClawbackCandidates int64 `bigquery:"clawback_candidates" json:"clawback_candidates"`
}

// CycleSummary is one row per cycle.
type CycleSummary struct {
	SnapshotID         string     `bigquery:"snapshot_id" json:"snapshot_id"`
	SnapshotDate       civil.Date `bigquery:"snapshot_date" json:"snapshot_date"`
	CycleID            string     `bigquery:"cycle_id" json:"cycle_id"`
	DisplayName        string     `bigquery:"display_name" json:"display_name"`
	AwardModel         string     `bigquery:"award_model" json:"award_model"`
	StartTime          time.Time  `bigquery:"start_time" json:"start_time"`
	EndTime            time.Time  `bigquery:"end_time" json:"end_time"`
	Currency           string     `bigquery:"currency" json:"currency"`
	Status             string     `bigquery:"status" json:"status"`
	IsFinal            bool       `bigquery:"is_final" json:"is_final"`
	SettlesAt          time.Time  `bigquery:"settles_at" json:"settles_at"`
	AwardPool          int64      `bigquery:"award_pool" json:"award_pool"`
	AwardPoolRemaining int64      `bigquery:"award_pool_remaining" json:"award_pool_remaining"`
	Awarded            int64      `bigquery:"awarded" json:"awarded"`
	Referrals          int64      `bigquery:"referrals" json:"referrals"`
	Conversions        int64      `bigquery:"conversions" json:"conversions"`
	PendingConversions int64      `bigquery:"pending_conversions" json:"pending_conversions"`
	Revenue            int64      `bigquery:"revenue" json:"revenue"`
	PendingRevenue     int64      `bigquery:"pending_revenue" json:"pending_revenue"`
	RankedReferrers    int64      `bigquery:"ranked_referrers" json:"ranked_referrers"`
	QualifiedReferrers int64      `bigquery:"qualified_referrers" json:"qualified_referrers"`
}

// LeaderboardEntry is one row per ranked referrer per cycle. In a settled
// cycle (SPEC 2.8) every row carries the settled snapshot, the settled award
// and the award drift (settled award minus Award, the award the current
// data gives; positive: a clawback candidate), and a referrer settled with
// an award that is not ranked now (or every settled referrer of a settled
// cycle no longer in the cycle set) has a row with rank 0 and only those.
type LeaderboardEntry struct {
	SnapshotID         string     `bigquery:"snapshot_id" json:"snapshot_id"`
	SnapshotDate       civil.Date `bigquery:"snapshot_date" json:"snapshot_date"`
	CycleID            string     `bigquery:"cycle_id" json:"cycle_id"`
	Rank               int64      `bigquery:"rank" json:"rank"`
	Refcode            string     `bigquery:"refcode" json:"refcode"`
	Currency           string     `bigquery:"currency" json:"currency"`
	Score              int64      `bigquery:"score" json:"score"`
	Referrals          int64      `bigquery:"referrals" json:"referrals"`
	Conversions        int64      `bigquery:"conversions" json:"conversions"`
	PendingConversions int64      `bigquery:"pending_conversions" json:"pending_conversions"`
	Revenue            int64      `bigquery:"revenue" json:"revenue"`
	PendingRevenue     int64      `bigquery:"pending_revenue" json:"pending_revenue"`
	ScoreReachedAt     time.Time  `bigquery:"score_reached_at" json:"score_reached_at"`
	Qualified          bool       `bigquery:"qualified" json:"qualified"`
	FinalScoreBoost    float64    `bigquery:"final_score_boost" json:"final_score_boost"` // display only; never money
	Award              int64      `bigquery:"award" json:"award"`
	AdminAction        string     `bigquery:"admin_action" json:"admin_action"` // "" = none
	AdminActionReason  string     `bigquery:"admin_action_reason" json:"admin_action_reason"`
	SettledFrom        string     `bigquery:"settled_from" json:"settled_from"`   // the settled snapshot; "" = the cycle is not settled
	SettledAward       int64      `bigquery:"settled_award" json:"settled_award"` // 0 when not settled
	AwardDrift         int64      `bigquery:"award_drift" json:"award_drift"`     // settled_award - award; 0 when not settled
}

// ReferralDecision is one row per referrals row.
type ReferralDecision struct {
	SnapshotID     string       `bigquery:"snapshot_id" json:"snapshot_id"`
	SnapshotDate   civil.Date   `bigquery:"snapshot_date" json:"snapshot_date"`
	RefereeEmail   string       `bigquery:"referee_email" json:"referee_email"`
	CanonicalEmail string       `bigquery:"canonical_email" json:"canonical_email"`
	Refcode        string       `bigquery:"refcode" json:"refcode"`
	ReferredAtRaw  string       `bigquery:"referred_at_raw" json:"referred_at_raw"`
	SelectedPlan   string       `bigquery:"selected_plan" json:"selected_plan"`
	Rewarded       bool         `bigquery:"rewarded" json:"rewarded"`
	Outcome        string       `bigquery:"outcome" json:"outcome"`
	Reason         string       `bigquery:"reason" json:"reason"`
	Conversions    []Conversion `bigquery:"conversions" json:"conversions"`
	// Clawback: rewarded already, but converts in no cycle any more (SPEC 2.7).
	Clawback bool `bigquery:"clawback" json:"clawback"`
}

// Conversion is a referral's conversion in one cycle (a repeated record in
// BigQuery, JSON text in SQLite).
type Conversion struct {
	CycleID        string    `bigquery:"cycle_id" json:"cycle_id"`
	ConvertedAt    time.Time `bigquery:"converted_at" json:"converted_at"`
	InvoiceID      string    `bigquery:"invoice_id" json:"invoice_id"`
	Pending        bool      `bigquery:"pending" json:"pending"`
	RewardEligible bool      `bigquery:"reward_eligible" json:"reward_eligible"`
	Reason         string    `bigquery:"reason" json:"reason"`
}

// PaymentAccounting is one row per revenue event per cycle.
type PaymentAccounting struct {
	SnapshotID         string     `bigquery:"snapshot_id" json:"snapshot_id"`
	SnapshotDate       civil.Date `bigquery:"snapshot_date" json:"snapshot_date"`
	CycleID            string     `bigquery:"cycle_id" json:"cycle_id"`
	Seq                int64      `bigquery:"seq" json:"seq"` // 1-based order of the event in the cycle
	InvoiceID          string     `bigquery:"invoice_id" json:"invoice_id"`
	CustomerID         string     `bigquery:"customer_id" json:"customer_id"`
	Refcode            string     `bigquery:"refcode" json:"refcode"`
	RefereeEmail       string     `bigquery:"referee_email" json:"referee_email"`
	PaidAt             time.Time  `bigquery:"paid_at" json:"paid_at"`
	Currency           string     `bigquery:"currency" json:"currency"`
	Net                int64      `bigquery:"net" json:"net"`
	Pending            bool       `bigquery:"pending" json:"pending"`
	AccumulatedRevenue int64      `bigquery:"accumulated_revenue" json:"accumulated_revenue"`
	PoolBefore         int64      `bigquery:"pool_before" json:"pool_before"`
	Claim              int64      `bigquery:"claim" json:"claim"`
	// How net came about (SPEC 2.2): net = max(0, gross - refunds -
	// credit_notes - disputes).
	Gross       int64 `bigquery:"gross" json:"gross"`
	Refunds     int64 `bigquery:"refunds" json:"refunds"`
	CreditNotes int64 `bigquery:"credit_notes" json:"credit_notes"`
	Disputes    int64 `bigquery:"disputes" json:"disputes"`
}

// Subscription is one row per Stripe subscription.
type Subscription struct {
	SnapshotID     string     `bigquery:"snapshot_id" json:"snapshot_id"`
	SnapshotDate   civil.Date `bigquery:"snapshot_date" json:"snapshot_date"`
	SubscriptionID string     `bigquery:"subscription_id" json:"subscription_id"`
	CustomerID     string     `bigquery:"customer_id" json:"customer_id"`
	Status         string     `bigquery:"status" json:"status"`
	Created        time.Time  `bigquery:"created" json:"created"`
	PriceIDs       []string   `bigquery:"price_ids" json:"price_ids"`
}
