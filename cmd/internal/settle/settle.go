// Package settle is `refrecon settle plan|apply` (SPEC 2.8): finance settles
// one final cycle from one published snapshot, once. Plan works out what
// settling would do and writes nothing; Apply does it, recording the
// settlement in the warehouse ledger (table settlements) first and moving
// each ledger entry to its final state as its action succeeds, so that the
// same Apply after a crash or a failure finishes the rest and never pays an
// award or marks a referral row twice.
//
// What is settled comes from the snapshot alone: the awards of its
// published leaderboard of the cycle, the rows whose referral_decisions (in
// the warehouse, of that snapshot_id) are rewardEligible in the cycle, and
// the Stripe customers matched by canonical email in the configured Stripe
// source. WritePlan and WriteResult print a plan and an apply's result for
// a person. The commands in cmd/refrecon build a Config; nothing here reads
// the environment.
package settle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/rs/zerolog"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/referrals"
	"github.com/refrecon/refrecon/sources/stripe/api"
)

// Warehouse is the warehouse a settlement reads its rows from and records
// its ledger in.
type Warehouse interface {
	warehouse.LedgerDriver
	ReferralDecisions(ctx context.Context, date civil.Date, snapshotID string) ([]warehouse.ReferralDecision, error)
}

// ReferralSource reads the referrals service's users (the referrers'
// emails).
type ReferralSource interface {
	ReadReferrals(ctx context.Context) (pipeline.Referrals, error)
}

// StripeSource reads the Stripe customers the referrers are matched to.
type StripeSource interface {
	ReadStripe(ctx context.Context) (pipeline.Stripe, error)
}

// RowWriter sets referrals.rewarded (sources/referrals/sqlite.Writer,
// sources/referrals/d1.Source with the write token).
type RowWriter interface {
	RowStates(ctx context.Context, emails []string) (map[string]referrals.RowState, error)
	MarkRewarded(ctx context.Context, emails []string) error
}

// Creditor grants an award as a Stripe customer balance credit
// (sources/stripe/api.Creditor).
type Creditor interface {
	Find(ctx context.Context, c api.Credit) (string, error)
	Grant(ctx context.Context, c api.Credit) (string, error)
}

// Config is one settlement's wired dependencies.
type Config struct {
	Cycle    string
	Snapshot string

	Public    public.Storage // PUBLIC_DIR: latest.json, the snapshot, the lock
	Warehouse Warehouse
	Referrals ReferralSource
	Stripe    StripeSource

	// Credit is SETTLE_STRIPE_CREDIT: awards are granted as Stripe credits
	// (else finance pays them from the payout file).
	Credit bool
	// Rows and Creditor are Apply's writers (Creditor only with Credit).
	Rows     RowWriter
	Creditor Creditor

	PrivateDir string
	RunID      string           // recorded in the PUBLIC_DIR lock
	Now        func() time.Time // the ledger's recorded_at; nil = time.Now
	Log        zerolog.Logger
}

// Reasons recorded in the ledger.
const (
	reasonWriting   = "writing" // a referral row whose UPDATE was (about to be) sent
	reasonPayout    = "payout file written; finance pays it"
	reasonRowGone   = "row gone since the snapshot"
	reasonRewarded  = "row already rewarded since the snapshot"
	reasonNoUser    = "no users row has the refcode"
	reasonNoMatch   = "no Stripe customer's email matches the referrer's (canonical)"
	reasonManyMatch = "several Stripe customers match the referrer's email (canonical): "
)

// Plan is what a settlement does (or did): its ledger entries, each in its
// current state.
type Plan struct {
	Cycle    string `json:"cycle"`
	Snapshot string `json:"snapshot"`
	// Recorded says the ledger has the cycle's entries already: they are
	// its states, and Apply resumes (or has nothing left to do).
	Recorded bool                   `json:"recorded"`
	Method   string                 `json:"method"`
	Awards   []warehouse.Settlement `json:"awards"`
	Rows     []warehouse.Settlement `json:"referrals"`
}

// Entries is the plan's awards then rows, as the ledger orders them.
func (p *Plan) Entries() []warehouse.Settlement { return append(slices.Clone(p.Awards), p.Rows...) }

// Failure is a precondition or a settlement step that failed: exit 1.
type Failure struct{ msg string }

func (f *Failure) Error() string { return f.msg }

func fail(format string, a ...any) error { return &Failure{msg: fmt.Sprintf(format, a...)} }

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Config) method() string {
	if c.Credit {
		return warehouse.MethodStripeCredit
	}
	return warehouse.MethodPayoutFile
}

// IdempotencyKey is the Stripe Idempotency-Key of an award (SPEC 2.8).
func IdempotencyKey(cycle, refcode, snapshot string) string {
	sum := sha256.Sum256([]byte(cycle + "\n" + refcode + "\n" + snapshot))
	return "refrecon-" + hex.EncodeToString(sum[:])[:32]
}

// SnapshotDate is the UTC date of a snapshot id's asOf.
func SnapshotDate(id string) (civil.Date, error) {
	if !public.IsSnapshotID(id) {
		return civil.Date{}, fmt.Errorf("snapshot %q: not a snapshot id (YYYYMMDDTHHMMSSZ-<12 hex>)", id)
	}
	t, err := time.Parse("20060102T150405Z", id[:16])
	if err != nil {
		return civil.Date{}, fmt.Errorf("snapshot %q: %w", id, err)
	}
	return civil.DateOf(t), nil
}

// setEntries makes entries (in the ledger's order) p's awards and rows.
func (p *Plan) setEntries(entries []warehouse.Settlement) {
	p.Awards, p.Rows = nil, nil
	for _, e := range entries {
		if e.EntryKind == warehouse.EntryAward {
			p.Awards = append(p.Awards, e)
		} else {
			p.Rows = append(p.Rows, e)
		}
	}
}

// MakePlan checks the preconditions and works out the settlement, writing
// nothing. When the ledger has the cycle's entries from this snapshot, they
// are the plan (a resumed or finished settlement).
func MakePlan(ctx context.Context, c *Config) (*Plan, error) {
	ledger := warehouse.NewLedger(c.Warehouse)
	p, err := recorded(ctx, c, ledger)
	if err != nil || p != nil {
		return p, err
	}
	return compute(ctx, c)
}

// recorded returns the plan of a cycle the ledger has entries of (nil when
// it has none), failing when they are from another snapshot.
func recorded(ctx context.Context, c *Config, ledger *warehouse.Ledger) (*Plan, error) {
	settled, err := ledger.SettledCycles(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range settled {
		if s.CycleID != c.Cycle {
			continue
		}
		if s.SnapshotID != c.Snapshot {
			return nil, fail("cycle %s is already settled from snapshot %s, not %s", c.Cycle, s.SnapshotID, c.Snapshot)
		}
		entries, err := ledger.Entries(ctx, c.Cycle)
		if err != nil {
			return nil, err
		}
		p := &Plan{Cycle: c.Cycle, Snapshot: c.Snapshot, Recorded: true}
		p.setEntries(entries)
		if len(p.Awards) > 0 {
			p.Method = p.Awards[len(p.Awards)-1].Method
		}
		return p, nil
	}
	return nil, nil
}

// compute checks that the snapshot is the latest and the cycle final in it,
// and builds the first ledger rows of the settlement from the snapshot.
func compute(ctx context.Context, c *Config) (*Plan, error) {
	date, err := SnapshotDate(c.Snapshot)
	if err != nil {
		return nil, fail("%v", err)
	}
	rd := public.NewReader(c.Public)
	latest, err := rd.Latest(ctx)
	if errors.Is(err, public.ErrNoSnapshot) {
		return nil, fail("nothing is published in PUBLIC_DIR %s: settle a snapshot latest.json names", c.Public)
	}
	if err != nil {
		return nil, err
	}
	if latest != c.Snapshot {
		return nil, fail("snapshot %s is not the latest: latest.json names %s (settle from the latest snapshot, after reviewing it)", c.Snapshot, latest)
	}
	cyc, err := readCycle(ctx, rd, c.Snapshot, c.Cycle)
	if err != nil {
		return nil, err
	}
	if !cyc.IsFinal {
		return nil, fail("cycle %s is not final in snapshot %s (status %s, settles at %s): its amounts are tentative", c.Cycle, c.Snapshot, cyc.Status, cyc.SettlesAt)
	}
	awards, err := readAwards(ctx, rd, c.Snapshot, c.Cycle)
	if err != nil {
		return nil, err
	}
	decisions, err := c.Warehouse.ReferralDecisions(ctx, date, c.Snapshot)
	if err != nil {
		return nil, err
	}
	if len(decisions) == 0 {
		return nil, fail("the warehouse has no referral_decisions rows of snapshot %s (a later run of %s replaced them, or the run wrote no warehouse): settle from the latest snapshot of a run whose warehouse write succeeded", c.Snapshot, date)
	}
	refs, err := c.Referrals.ReadReferrals(ctx)
	if err != nil {
		return nil, err
	}
	emails := map[string]string{} // refcode -> raw email
	for _, u := range refs.Users {
		if u.Refcode != "" {
			emails[u.Refcode] = u.Email
		}
	}
	stripe, err := c.Stripe.ReadStripe(ctx)
	if err != nil {
		return nil, err
	}
	customers := map[string][]string{} // canonical email -> customer ids
	for _, cu := range stripe.Customers {
		if ce, ok := pipeline.CanonicalEmail(cu.Email); ok {
			customers[ce] = append(customers[ce], cu.ID)
		}
	}

	at := c.now()
	base := warehouse.Settlement{SnapshotID: c.Snapshot, SnapshotDate: date, CycleID: c.Cycle, Seq: 1, RecordedAt: at, State: warehouse.StatePending}
	p := &Plan{Cycle: c.Cycle, Snapshot: c.Snapshot, Method: c.method()}
	for _, a := range awards {
		e := base
		e.EntryKind, e.Refcode, e.Currency, e.AwardMinor = warehouse.EntryAward, a.refcode, a.currency, a.amount
		e.Method, e.IdempotencyKey = c.method(), IdempotencyKey(c.Cycle, a.refcode, c.Snapshot)
		email, ok := emails[a.refcode]
		e.ReferrerEmail = email
		var ids []string
		if ce, cok := pipeline.CanonicalEmail(email); ok && cok {
			ids = slices.Sorted(slices.Values(customers[ce]))
		}
		if len(ids) == 1 {
			e.StripeCustomerID = ids[0]
		}
		if c.Credit {
			switch {
			case !ok:
				e.State, e.Reason = warehouse.StateUnpayable, reasonNoUser
			case len(ids) == 0:
				e.State, e.Reason = warehouse.StateUnpayable, reasonNoMatch
			case len(ids) > 1:
				e.State, e.Reason = warehouse.StateUnpayable, reasonManyMatch+strings.Join(ids, ", ")
			}
		}
		p.Awards = append(p.Awards, e)
	}
	for _, d := range decisions {
		for _, cv := range d.Conversions {
			if cv.CycleID != c.Cycle || !cv.RewardEligible {
				continue
			}
			e := base
			e.EntryKind, e.Refcode, e.RefereeEmail, e.ReferrerEmail = warehouse.EntryReferral, d.Refcode, d.RefereeEmail, emails[d.Refcode]
			e.Currency = cyc.Rules.Currency
			p.Rows = append(p.Rows, e)
		}
	}
	sorted, err := warehouse.Latest(p.Entries())
	if err != nil {
		return nil, fail("snapshot %s: %v", c.Snapshot, err)
	}
	p.setEntries(sorted)
	if len(p.Awards)+len(p.Rows) == 0 {
		return nil, fail("cycle %s has no award and no reward-eligible referral in snapshot %s: nothing to settle", c.Cycle, c.Snapshot)
	}
	return p, nil
}

// cycleDoc is what settle reads of a cycle's summary in cycles.json.
type cycleDoc struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	IsFinal   bool   `json:"isFinal"`
	SettlesAt string `json:"settlesAt"`
	Rules     struct {
		Currency string `json:"currency"`
	} `json:"rules"`
}

func readCycle(ctx context.Context, rd *public.Reader, snap, cycle string) (cycleDoc, error) {
	b, err := rd.Document(ctx, snap, public.CyclesName)
	if errors.Is(err, fs.ErrNotExist) {
		return cycleDoc{}, fail("snapshot %s has no %s", snap, public.CyclesName)
	}
	if err != nil {
		return cycleDoc{}, err
	}
	var doc struct {
		Cycles []cycleDoc `json:"cycles"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return cycleDoc{}, fmt.Errorf("snapshot %s: parse %s: %w", snap, public.CyclesName, err)
	}
	for _, cy := range doc.Cycles {
		if cy.ID == cycle {
			return cy, nil
		}
	}
	return cycleDoc{}, fail("cycle %s is not in snapshot %s", cycle, snap)
}

type award struct {
	refcode  string
	currency string
	amount   int64
}

// readAwards reads every page of the cycle's leaderboard in the snapshot
// and returns the entries with an award > 0.
func readAwards(ctx context.Context, rd *public.Reader, snap, cycle string) ([]award, error) {
	var out []award
	seen := map[string]bool{}
	var bad error // a page that is not what a run publishes, reported as it is
	err := rd.LeaderboardPages(ctx, snap, cycle, func(rel string, b []byte) (bool, error) {
		var doc struct {
			CycleID string `json:"cycleId"`
			Entries []struct {
				Refcode string `json:"refcode"`
				Award   struct {
					Currency string `json:"currency"`
					Amount   string `json:"amount"`
				} `json:"award"`
			} `json:"entries"`
			PageContext struct {
				HasNext bool `json:"hasNext"`
			} `json:"pageContext"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			bad = fmt.Errorf("snapshot %s: parse %s: %w", snap, rel, err)
			return false, bad
		}
		if doc.CycleID != cycle {
			bad = fmt.Errorf("snapshot %s: %s is of cycle %q", snap, rel, doc.CycleID)
			return false, bad
		}
		for _, e := range doc.Entries {
			n, err := strconv.ParseInt(e.Award.Amount, 10, 64)
			if err != nil || n < 0 {
				bad = fmt.Errorf("snapshot %s: %s: award of %s is %q, want minor units", snap, rel, e.Refcode, e.Award.Amount)
				return false, bad
			}
			if seen[e.Refcode] {
				bad = fmt.Errorf("snapshot %s: leaderboard of %s lists %s twice", snap, cycle, e.Refcode)
				return false, bad
			}
			seen[e.Refcode] = true
			if n > 0 {
				out = append(out, award{refcode: e.Refcode, currency: e.Award.Currency, amount: n})
			}
		}
		return doc.PageContext.HasNext, nil
	})
	switch {
	case bad != nil:
		return nil, bad
	case err != nil:
		return nil, fmt.Errorf("read the leaderboard of %s: %w", cycle, err)
	}
	return out, nil
}
