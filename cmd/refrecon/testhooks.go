package main

import (
	"net/http"
	"time"

	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sources/referrals/d1"
	stripeapi "github.com/refrecon/refrecon/sources/stripe/api"
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

func (r *retryTuning) stripe(c *stripeapi.Config) {
	if r == nil {
		return
	}
	c.Retry.Initial, c.Retry.MaxInterval = r.Backoff, r.Backoff
	if r.AttemptTimeout > 0 {
		c.HTTPClient = &http.Client{Timeout: r.AttemptTimeout}
	}
}

func (r *retryTuning) d1(c *d1.Config) {
	if r == nil {
		return
	}
	c.Retry.Initial, c.Retry.MaxInterval = r.Backoff, r.Backoff
	if r.AttemptTimeout > 0 {
		c.HTTPClient = &http.Client{Timeout: r.AttemptTimeout}
	}
}

func (r *retryTuning) bigquery(c *bigquery.Config) {
	if r == nil {
		return
	}
	c.Retry.Initial, c.Retry.MaxInterval = r.Backoff, r.Backoff
}
