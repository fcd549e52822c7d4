package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/referrals/d1/d1fake"
)

// A `settle apply` killed with SIGKILL at random moments, then run again,
// finishes the settlement with every award credited exactly once and every
// referral row written exactly once: against the Stripe fake (which honours
// Idempotency-Key and lists balance transactions) and the D1 fake (which
// executes the UPDATE; a trigger counts each row's writes).
//
// The real binary is built once; the fakes live in this test process, so a
// killed apply loses none of their state. Both fakes answer each request
// after a few milliseconds so that the kills (seeded, spread over the
// length of an apply) land between the steps: before the ledger, between
// credits, between a credit and its ledger row, between the referral
// rows' "writing" mark and their UPDATE, and so on.
func TestSettleCrashKill9(t *testing.T) {
	bin, tmp := buildBinary(t, "builds the binary and kills it repeatedly")
	for seed := range uint64(3) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { settleCrashRound(t, bin, tmp, seed) })
	}
}

// settleCrashRound settles cycle-1 of a fresh fixture world through
// applies killed at seeded points, then checks the end state.
func settleCrashRound(t *testing.T, bin, tmp string, seed uint64) {
	// Stripe customers for the fixture's referrers, so that 7 of cycle-1's
	// 10 awards are credited: ivy has two customers (unpayable), HECTOR10
	// and Zed none.
	var extra bytes.Buffer
	for i, email := range []string{"bob.martin@example.org", "dan.okafor@example.com", "carol.smith@example.net",
		"erin.li@example.com", "frank.garcia@example.org", "grace.kim@example.net", "ivy.chen@example.com",
		"Ivy.Chen+billing@example.com"} {
		fmt.Fprintf(&extra, `{"object":"customer","id":"cus_ref_%d","email":%q}`+"\n", i, email)
	}
	slowD1 := d1fake.OnRequest(func(int, string, *sql.DB) { time.Sleep(4 * time.Millisecond) })
	w := newSettleWorldWith(t, true, extra.Bytes(), slowD1)
	w.stripe.Delay = 4 * time.Millisecond

	env := w.env(fixtureAsOf, true)
	start := func() *exec.Cmd {
		cmd := binaryCommand(bin, tmp, env, "settle", "apply", "--cycle", settleCycle, "--snapshot", w.snapshot)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() && errb.Len() > 0 {
				t.Logf("stderr of an apply: %s", errb.String())
			}
		})
		return cmd
	}

	// Kill points are counted in requests to the two fakes (an apply's
	// progress) rather than in time, so that they land in every phase
	// whatever the machine's speed: the n-th request after the start, n
	// seeded in [1, 36] (a whole first apply makes 36), [1, 12] once the
	// ledger is recorded.
	requests := func() int { return w.stripe.TotalRequests() + len(w.d1.Requests()) }
	rng := rand.New(rand.NewPCG(20260415, seed))
	const maxKills = 8
	kills, midway, finished := 0, 0, false
	for kills < maxKills && !finished {
		base := requests()
		// Before the ledger is recorded an apply reads its inputs (about
		// 20 requests); a resumed one only acts (at most 2 per credit and
		// 3 per batch of rows).
		span := 36
		if len(w.ledger(t)) > 0 {
			span = 12
		}
		at := base + 1 + rng.IntN(span)
		cmd := start()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		exited := false
	poll:
		for requests() < at {
			select {
			case err = <-done:
				exited = true
				break poll
			case <-time.After(time.Millisecond):
			}
		}
		if !exited {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err = <-done
		}
		var ee *exec.ExitError
		switch {
		case err == nil:
			t.Logf("apply finished on its own after %d requests (kill point %d)", requests()-base, at-base)
			finished = true
		case errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled():
			kills++
			if entries := w.ledger(t); len(entries) > 0 && hasUnfinished(entries) {
				midway++
			}
		default:
			t.Fatalf("apply after %d kills exited with %v", kills, err)
		}
	}
	t.Logf("%d applies killed, %d of them with the ledger recorded and entries still to do", kills, midway)
	if kills == 0 || midway == 0 {
		t.Fatalf("%d kills, %d in the middle of a settlement: the test exercised no crash", kills, midway)
	}
	// The same apply once more finishes the rest (or has nothing left).
	cmd := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the final apply: %v", err)
	}
	w.checkSettled(t)
	credited := 0
	for _, e := range w.ledger(t) {
		if e.EntryKind == warehouse.EntryAward && e.State == warehouse.StateDone {
			credited++
		}
	}
	if credited < 7 {
		t.Errorf("%d awards credited, want the 7 payable ones", credited)
	}
	if n := w.stripe.CreatingPosts(); n != credited {
		t.Errorf("%d balance transactions created for %d credited awards", n, credited)
	}
	for _, r := range w.d1.Requests() {
		if strings.HasPrefix(r.SQL, "UPDATE") && len(r.Params) > 100 {
			t.Errorf("an UPDATE names %d rows, want at most 100", len(r.Params))
		}
	}
}

func hasUnfinished(entries []warehouse.Settlement) bool {
	for _, e := range entries {
		if e.State == warehouse.StatePending || e.State == warehouse.StateFailed {
			return true
		}
	}
	return false
}
