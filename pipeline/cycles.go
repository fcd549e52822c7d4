package pipeline

import "time"

// CycleSet is a validated set of referral program cycles (SPEC 1.3).
// Build one with DecodeCycleSet or DefaultCycleSet; a CycleSet that did not
// come from either has not been validated.
type CycleSet struct {
	Cycles []Cycle // in the order of the document
}

// Cycle is one time-boxed referral program cycle.
type Cycle struct {
	ID          string
	DisplayName string
	RulesURL    string
	Rules       Rules
}

// AwardModel says how a cycle's award pool is shared.
type AwardModel string

// The award models.
const (
	PieSplit    AwardModel = "pie-split"
	RevShareCap AwardModel = "rev-share-cap"
)

// ScoreBy is what a pie-split cycle ranks referrers by.
type ScoreBy string

// The pie-split scores.
const (
	ScoreByConversions ScoreBy = "conversions"
	ScoreByRevenue     ScoreBy = "revenue"
)

// Rules are a cycle's rules. Fields of the other award model are zero.
type Rules struct {
	AwardModel           AwardModel
	StartTime            time.Time // inclusive
	EndTime              time.Time // inclusive
	Currency             string    // lowercase ISO code
	AwardPool            Money
	EligiblePlans        []string // price ids or lookup keys; empty = every plan
	HoldDays             int64
	AttributionDays      *int64 // nil = unlimited
	MinPaymentsToConvert int64
	AreAwardsDistributed bool
	AdminActions         []AdminAction

	// pie-split
	MaxQualifiedReferrers int64
	ScoreBy               ScoreBy

	// rev-share-cap
	MinQualifyingRevenue Money
	RevenueShareBps      int64
}

// AdminActionType is what an admin did to a referrer in one cycle.
type AdminActionType string

// The admin actions.
const (
	Disqualification AdminActionType = "Disqualification"
	Warning          AdminActionType = "Warning"
)

// AdminAction is an admin's decision about one refcode in one cycle.
type AdminAction struct {
	ActionType AdminActionType
	Refcode    string
	Reason     string
}

// Money is an amount in minor units of a currency. It is rendered in JSON
// as {"currency": "usd", "amount": "<digits>"}.
type Money struct {
	Currency string
	Amount   int64
}
