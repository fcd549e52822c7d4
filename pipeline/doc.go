// Package pipeline is refrecon's domain: the cycle set, the referral and
// Stripe records a run reads, and the pure computation that turns them into
// leaderboards, awards and per-referral reward decisions.
//
// Nothing in this package does I/O or reads the clock. Every function is a
// pure function of its arguments; the run's clock, asOf, is always passed in.
// Money is int64 minor units with overflow checks; products that can exceed
// int64 (pool × weight) are computed with math/big.
//
// The contract is ../shared/SPEC.md, sections 1.3 (cycle set) and 2 (rules).
// Decisions the SPEC leaves open are recorded in docs/decisions.md.
package pipeline
