package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/pipeline"
)

// The summary counts the clawback candidates (and names no referee: it is
// a count, the rows are in the private outputs).
func TestSummaryCountsClawbackCandidates(t *testing.T) {
	rep := &reconcile.Report{SnapshotID: "20260415T000000Z-0123456789ab", Result: &pipeline.Result{Decisions: []pipeline.ReferralDecision{
		{Row: pipeline.ReferralRow{Email: "a@example.com", Rewarded: true}, Outcome: pipeline.Valid, Reason: pipeline.ReasonDisputed, Clawback: true},
		{Row: pipeline.ReferralRow{Email: "b@example.com"}, Outcome: pipeline.Valid, Reason: pipeline.ReasonNoCustomer},
		{Row: pipeline.ReferralRow{Email: "c@example.com", Rewarded: true}, Outcome: pipeline.Valid, Reason: pipeline.ReasonRefunded, Clawback: true},
	}}}
	var b bytes.Buffer
	writeSummary(&b, rep)
	if !strings.Contains(b.String(), "\nclawback candidates: 2 (") || strings.Contains(b.String(), "@") {
		t.Errorf("summary:\n%s\nwant a line counting 2 clawback candidates and no email", b.String())
	}
}
