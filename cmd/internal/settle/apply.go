package settle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/refrecon/refrecon/sinks/csvreport"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/referrals"
	"github.com/refrecon/refrecon/sources/retry"
	"github.com/refrecon/refrecon/sources/stripe/api"
)

// lockTTL is how long the PUBLIC_DIR lock stands if apply dies holding it
// (on stores without a kernel lock).
const lockTTL = 30 * time.Minute

// Result is what one Apply did.
type Result struct {
	Plan       *Plan  // the ledger's entries, in their states after this apply
	PayoutFile string // PRIVATE_DIR/settlements/<cycle>-<snapshot>.csv
	Resumed    bool   // the ledger had the cycle's entries already
}

// Apply settles the cycle: under the PUBLIC_DIR lock it checks the
// preconditions, records the ledger entries (only if the ledger has none of
// the cycle), writes the payout file, grants the Stripe credits and marks
// the referral rows, moving each entry to its state as its action ends. It
// fails (and the same Apply later finishes the rest) on a refused
// credential, an unreachable service or a failed write; awards Stripe
// refuses (a 4xx) are left failed and reported once every other entry is
// done.
func Apply(ctx context.Context, c *Config) (res *Result, err error) {
	unlock, err := c.Public.Lock(ctx, public.LockRequest{RunID: c.RunID, TTL: lockTTL})
	if err != nil {
		return nil, fmt.Errorf("lock public dir: %w", err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("unlock public dir: %w", uerr)
		}
	}()
	ledger := warehouse.NewLedger(c.Warehouse)
	p, err := recorded(ctx, c, ledger)
	if err != nil {
		return nil, err
	}
	res = &Result{Resumed: p != nil}
	if p == nil {
		if p, err = compute(ctx, c); err != nil {
			return nil, err
		}
		if err := ledger.Record(ctx, p.Entries()); err != nil {
			return nil, err
		}
		p.Recorded = true
		c.Log.Info().Str("cycle", c.Cycle).Str("snapshot", c.Snapshot).Int("awards", len(p.Awards)).
			Int("referrals", len(p.Rows)).Str("method", p.Method).Msg("settlement recorded")
	} else if len(p.Awards) > 0 && p.Method != c.method() {
		return nil, fail("cycle %s was settled with method %s; SETTLE_STRIPE_CREDIT=%t asks for %s: a settlement keeps the method of its first apply", c.Cycle, p.Method, c.Credit, c.method())
	}
	if c.Credit && c.Creditor == nil && slices.ContainsFunc(p.Awards, func(e warehouse.Settlement) bool { return credits(e) }) {
		return nil, errors.New("settle: SETTLE_STRIPE_CREDIT=true without a Stripe creditor")
	}
	res.Plan = p
	a := &applier{c: c, ledger: ledger, p: p, rowAt: map[warehouse.EntryKey]int{}}
	for i, e := range p.Rows {
		a.rowAt[e.Key()] = i
	}
	if res.PayoutFile, err = a.writePayout(); err != nil {
		return res, err
	}
	if err := a.payoutDone(ctx); err != nil {
		return res, err
	}
	if err := a.credit(ctx); err != nil {
		return res, a.finish(err)
	}
	if err := a.markRows(ctx); err != nil {
		return res, a.finish(err)
	}
	if err := a.finish(nil); err != nil {
		return res, err
	}
	var failed []string
	for _, e := range p.Awards {
		if e.State == warehouse.StateFailed {
			failed = append(failed, e.Refcode+" ("+e.Reason+")")
		}
	}
	if len(failed) > 0 {
		return res, fail("%d award(s) of cycle %s failed: %s; fix the cause, then run the same settle apply again", len(failed), c.Cycle, strings.Join(failed, "; "))
	}
	return res, nil
}

// credits reports whether an award entry still needs its Stripe credit.
func credits(e warehouse.Settlement) bool {
	return e.Method == warehouse.MethodStripeCredit && (e.State == warehouse.StatePending || e.State == warehouse.StateFailed)
}

type applier struct {
	c      *Config
	ledger *warehouse.Ledger
	p      *Plan
	rowAt  map[warehouse.EntryKey]int // index in p.Rows
}

func (a *applier) writePayout() (string, error) {
	return csvreport.WritePayout(a.c.PrivateDir, a.c.Cycle, a.c.Snapshot, a.p.Awards)
}

// finish rewrites the payout file with the entries' states; err (the
// apply's) wins over the file's.
func (a *applier) finish(err error) error {
	if _, werr := a.writePayout(); werr != nil && err == nil {
		return werr
	}
	return err
}

// payoutDone moves the payout-file awards to done: the file holds them.
func (a *applier) payoutDone(ctx context.Context) error {
	var done awardOutcomes
	for i, e := range a.p.Awards {
		if e.Method == warehouse.MethodPayoutFile && e.State == warehouse.StatePending {
			done.add(i, e.Next(warehouse.StateDone, reasonPayout, a.c.now()))
		}
	}
	return a.recordAwards(ctx, &done)
}

// awardOutcomes are new ledger entries of awards: rows[k] is the next
// entry of a.p.Awards[idx[k]].
type awardOutcomes struct {
	rows []warehouse.Settlement
	idx  []int
}

func (o *awardOutcomes) add(i int, e warehouse.Settlement) {
	o.rows, o.idx = append(o.rows, e), append(o.idx, i)
}

// recordAwards appends o's entries to the ledger and then, the ledger
// holding them, puts them into the plan; o is empty after.
func (a *applier) recordAwards(ctx context.Context, o *awardOutcomes) error {
	if len(o.rows) == 0 {
		return nil
	}
	if err := a.ledger.Append(ctx, o.rows...); err != nil {
		return err
	}
	for k, i := range o.idx {
		a.p.Awards[i] = o.rows[k]
	}
	o.rows, o.idx = o.rows[:0], o.idx[:0]
	return nil
}

// creditBatch is how many credit outcomes one ledger append carries. On
// BigQuery every append is a load job (and a table takes at most 1,500 a
// day), so outcomes are recorded in groups; a credit granted but not yet
// recorded when apply dies is found by the next apply's listing, never
// granted again.
const creditBatch = 25

// credit grants every Stripe credit not done yet: first the customer's
// balance transactions are listed (a credit whose metadata names the
// cycle, snapshot and refcode is done already, whatever became of the
// idempotency key), then the credit is created with the award's key.
func (a *applier) credit(ctx context.Context) (err error) {
	var out awardOutcomes
	defer func() {
		if ferr := a.recordAwards(ctx, &out); ferr != nil && err == nil {
			err = ferr
		}
	}()
	for i := range a.p.Awards {
		e := a.p.Awards[i]
		if !credits(e) {
			continue
		}
		cr := api.Credit{Customer: e.StripeCustomerID, Amount: e.AwardMinor, Currency: e.Currency,
			Cycle: e.CycleID, Snapshot: e.SnapshotID, Refcode: e.Refcode, IdempotencyKey: e.IdempotencyKey}
		id, err := a.c.Creditor.Find(ctx, cr)
		if err == nil && id == "" {
			id, err = a.c.Creditor.Grant(ctx, cr)
		}
		switch {
		case err == nil:
			n := e.Next(warehouse.StateDone, "", a.c.now())
			n.BalanceTransactionID = id
			out.add(i, n)
			a.c.Log.Info().Str("cycle", e.CycleID).Str("refcode", e.Refcode).Str("balance_transaction", id).Msg("award credited")
		case retry.ClassOf(err) == retry.ErrBadInput:
			out.add(i, e.Next(warehouse.StateFailed, err.Error(), a.c.now()))
			a.c.Log.Warn().Str("cycle", e.CycleID).Str("refcode", e.Refcode).Str("reason", err.Error()).Msg("award not credited")
		default:
			return fmt.Errorf("credit the award of %s: %w", e.Refcode, err)
		}
		if len(out.rows) == creditBatch {
			if err := a.recordAwards(ctx, &out); err != nil {
				return err
			}
		}
	}
	return nil
}

// markRows sets rewarded = 1 on the pending referral rows, at most
// referrals.MaxRewardedBatch per statement. Before a batch is written its
// entries are marked "writing" in the ledger, so that after a crash a row
// found rewarded is known to be this settlement's (done), while a row found
// rewarded without the mark was rewarded by someone else since the
// snapshot (skipped). A row gone, or whose refcode changed, is skipped.
func (a *applier) markRows(ctx context.Context) error {
	var pending []int
	for i, e := range a.p.Rows {
		if e.State == warehouse.StatePending {
			pending = append(pending, i)
		}
	}
	if len(pending) > 0 && a.c.Rows == nil {
		return errors.New("settle: referral rows to mark without a referrals writer")
	}
	for len(pending) > 0 {
		batch := pending[:min(len(pending), referrals.MaxRewardedBatch)]
		pending = pending[len(batch):]
		if err := a.markBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) markBatch(ctx context.Context, batch []int) error {
	states, err := a.c.Rows.RowStates(ctx, a.refereeEmails(batch))
	if err != nil {
		return err
	}
	var settled, intents []warehouse.Settlement
	var write []int
	for _, i := range batch {
		e := a.p.Rows[i]
		st, ok := states[e.RefereeEmail]
		switch {
		case !ok:
			settled = append(settled, e.Next(warehouse.StateSkipped, reasonRowGone, a.c.now()))
		case st.Refcode != e.Refcode:
			settled = append(settled, e.Next(warehouse.StateSkipped, fmt.Sprintf("refcode changed since the snapshot (now %q)", st.Refcode), a.c.now()))
		case st.Rewarded && e.Reason == reasonWriting:
			settled = append(settled, e.Next(warehouse.StateDone, "", a.c.now()))
		case st.Rewarded:
			settled = append(settled, e.Next(warehouse.StateSkipped, reasonRewarded, a.c.now()))
		default:
			write = append(write, i)
			if e.Reason != reasonWriting {
				intents = append(intents, e.Next(warehouse.StatePending, reasonWriting, a.c.now()))
			}
		}
	}
	if err := a.recordRows(ctx, settled, intents); err != nil {
		return err
	}
	if len(write) == 0 {
		return nil
	}
	toWrite := a.refereeEmails(write)
	if err := a.c.Rows.MarkRewarded(ctx, toWrite); err != nil {
		return err
	}
	after, err := a.c.Rows.RowStates(ctx, toWrite)
	if err != nil {
		return err
	}
	var done []warehouse.Settlement
	for _, i := range write {
		e := a.p.Rows[i]
		st, ok := after[e.RefereeEmail]
		switch {
		case !ok:
			done = append(done, e.Next(warehouse.StateSkipped, reasonRowGone, a.c.now()))
		case st.Rewarded:
			done = append(done, e.Next(warehouse.StateDone, "", a.c.now()))
		default:
			return fmt.Errorf("referral row %q is not rewarded after the UPDATE", e.RefereeEmail)
		}
	}
	return a.recordRows(ctx, done)
}

// refereeEmails returns the referee emails of the plan's rows at the
// indexes rows, in that order: the keys the referral rows are read and
// updated by.
func (a *applier) refereeEmails(rows []int) []string {
	emails := make([]string, len(rows))
	for k, i := range rows {
		emails[k] = a.p.Rows[i].RefereeEmail
	}
	return emails
}

// recordRows appends the lists' entries to the ledger and then, the
// ledger holding them, puts them into the plan (matched by entry key).
func (a *applier) recordRows(ctx context.Context, lists ...[]warehouse.Settlement) error {
	if err := a.ledger.Append(ctx, slices.Concat(lists...)...); err != nil {
		return err
	}
	for _, rows := range lists {
		for _, r := range rows {
			a.p.Rows[a.rowAt[r.Key()]] = r
		}
	}
	return nil
}
