package pipeline

import "time"

// RunInfo identifies one run and what it read. It is computed from the
// inputs, the cycle set, asOf and the code version alone, so two runs on the
// same inputs get the same RunInfo (SPEC 3.1).
type RunInfo struct {
	SnapshotID     string // asOf as YYYYMMDDTHHMMSSZ + "-" + 12 hex digits
	AsOf           time.Time
	CodeVersion    string
	CycleSetSHA256 string
	Inputs         InputsDigest
	// Notes are facts about the read that a person should see (for example
	// row counts that changed while a remote source was paged). They go to
	// the log, the manifest and the runs table.
	Notes []string
	// Sources says which kind of source each input came from (the
	// manifest records it, so that fixture data is never published over
	// real data); the computation does not read it.
	Sources InputSources
}

// InputSources names the kind of source of each input: for referrals
// "fixture" (the embedded one), "sqlite", "d1dump" or "d1"; for Stripe
// "fixture", "file" or "api". "" is unknown (a run that did not say).
type InputSources struct {
	Referrals string `json:"referrals"`
	Stripe    string `json:"stripe"`
}

// SourceFixture is the kind of the embedded fixtures.
const SourceFixture = "fixture"

// UsesFixture reports whether any input came from the embedded fixtures.
func (s InputSources) UsesFixture() bool {
	return s.Referrals == SourceFixture || s.Stripe == SourceFixture
}

// InputsDigest counts the inputs and hashes them in a canonical order, so
// that shuffled inputs give the same digest.
type InputsDigest struct {
	SHA256 string
	Counts InputCounts
}

// InputCounts are the number of records of each kind a run read.
type InputCounts struct {
	Users         int64 `json:"users"`
	Referrals     int64 `json:"referrals"`
	Customers     int64 `json:"customers"`
	Subscriptions int64 `json:"subscriptions"`
	Invoices      int64 `json:"invoices"`
	Refunds       int64 `json:"refunds"`
	Disputes      int64 `json:"disputes,omitempty"`
	CreditNotes   int64 `json:"creditNotes,omitempty"`
}
