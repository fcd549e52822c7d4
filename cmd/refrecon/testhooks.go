package main

import (
	"net/http"
	"time"

	"github.com/refrecon/refrecon/sources/retry"
)

// testRetryOverride, when set (by tests only; nil in production), shortens
// the retry waits and the per-attempt timeout of every remote client the
// wiring builds (Stripe, D1, BigQuery), so that fault-injection tests of
// whole runs take milliseconds instead of the production backoffs'
// minutes. The retry counts and the logic stay the production ones.
var testRetryOverride *retryTuning

type retryTuning struct {
	Backoff        time.Duration // first backoff (and the cap of every backoff)
	AttemptTimeout time.Duration // HTTP timeout of one attempt (Stripe, D1); 0 = keep the default
}

// apply shortens policy's waits and, when httpClient is not nil, sets the
// per-attempt timeout.
func (r *retryTuning) apply(policy *retry.Policy, httpClient **http.Client) {
	if r == nil {
		return
	}
	policy.Initial, policy.MaxInterval = r.Backoff, r.Backoff
	if r.AttemptTimeout > 0 && httpClient != nil {
		*httpClient = &http.Client{Timeout: r.AttemptTimeout}
	}
}
