package pipeline

import "fmt"

// defaultCycleSetJSON is the built-in cycle set: the example of SPEC 1.3.
const defaultCycleSetJSON = `[
  {
    "id": "cycle-1",
    "displayName": "Holiday Awards",
    "rulesUrl": "https://example.com/referral-program/cycle-1/rules",
    "rules": {
      "awardModel": "pie-split",
      "startTime": "2025-12-01T00:00:00Z",
      "endTime": "2025-12-31T23:59:59Z",
      "currency": "usd",
      "awardPool": {"currency": "usd", "amount": "1000000"},
      "maxQualifiedReferrers": 10,
      "scoreBy": "conversions",
      "eligiblePlans": [],
      "holdDays": 30,
      "attributionDays": 365,
      "minPaymentsToConvert": 1,
      "areAwardsDistributed": false,
      "adminActions": []
    }
  },
  {
    "id": "cycle-2",
    "displayName": "March 2026",
    "rulesUrl": "https://example.com/referral-program/cycle-2/rules",
    "rules": {
      "awardModel": "pie-split",
      "startTime": "2026-03-01T00:00:00Z",
      "endTime": "2026-03-31T23:59:59Z",
      "currency": "usd",
      "awardPool": {"currency": "usd", "amount": "1000000"},
      "maxQualifiedReferrers": 10,
      "scoreBy": "conversions",
      "eligiblePlans": [],
      "holdDays": 30,
      "attributionDays": 365,
      "minPaymentsToConvert": 1,
      "areAwardsDistributed": false,
      "adminActions": []
    }
  }
]`

// DefaultCycleSet returns the built-in cycle set (SPEC 1.3), used when
// CUSTOM_REFERRAL_PROGRAM_CYCLES is not set. It is decoded from JSON by
// DecodeCycleSet, so it passes the same validation as a custom set. Each call
// returns a fresh copy.
func DefaultCycleSet() CycleSet {
	set, err := DecodeCycleSet([]byte(defaultCycleSetJSON))
	if err != nil {
		// The document is a constant covered by the tests.
		panic(fmt.Sprintf("pipeline: built-in cycle set is invalid:\n%v", err))
	}
	return set
}
