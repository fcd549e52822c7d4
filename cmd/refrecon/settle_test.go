package main

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/cmd/internal/settle"
	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/bigquery/bqfake"
	"github.com/refrecon/refrecon/sinks/csvreport"
	"github.com/refrecon/refrecon/sinks/public/bucket/s3fake"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/referrals"
	"github.com/refrecon/refrecon/sources/referrals/d1/d1fake"
	"github.com/refrecon/refrecon/sources/referrals/referralstest"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
)

const (
	settleReadKey  = "sk_test_settle_read_Q8z1"
	settleWriteKey = "sk_test_settle_write_W2x9"
	settleD1Write  = "d1-settle-write-token-7Hk2"
	settleCycle    = "cycle-1" // final at fixtureAsOf
)

// settleWorld is a fixture run ready to be settled: the referrals in a
// writable SQLite file (with a trigger counting writes of rewarded), read
// either directly (sqlite:) or through the D1 fake, and Stripe through the
// Stripe fake with a separate write key.
type settleWorld struct {
	dirs     e2eDirs
	dbPath   string
	stripe   *stripefake.Server
	d1       *d1fake.Server // nil: sqlite:
	bq       *bqfake.Server // nil: the SQLite warehouse
	public   string         // PUBLIC_DIR when not the directory (a bucket URL)
	snapshot string
}

func newSettleWorld(t *testing.T, viaD1 bool) *settleWorld {
	t.Helper()
	return newSettleWorldWith(t, viaD1, nil)
}

// newSettleWorldWith is newSettleWorld with extra Stripe objects (NDJSON)
// served beside the fixture's, and options of the D1 fake.
func newSettleWorldWith(t *testing.T, viaD1 bool, extraStripe []byte, d1opts ...d1fake.Option) *settleWorld {
	t.Helper()
	return newSettleWorldIn(t, &settleWorld{dirs: newDirs(t)}, viaD1, extraStripe, d1opts...)
}

func newSettleWorldIn(t *testing.T, w *settleWorld, viaD1 bool, extraStripe []byte, d1opts ...d1fake.Option) *settleWorld {
	t.Helper()
	w.dbPath = filepath.Join(w.dirs.Root, "referrals.sqlite")
	if err := os.WriteFile(w.dbPath, fixtures.ReferralsSQLite, 0o600); err != nil {
		t.Fatal(err)
	}
	execSQLite(t, w.dbPath, referralstest.UpdateLogSQL)
	w.stripe = stripefake.New(t, settleReadKey, append(append([]byte(nil), fixtures.StripeNDJSON...), extraStripe...))
	w.stripe.WriteKey = settleWriteKey
	if viaD1 {
		w.d1 = d1fake.NewServer(t, w.dbPath, append(d1opts, d1fake.WithWriteToken(settleD1Write))...)
	}
	rep := mustRun(t, w.env(fixtureAsOf, false))
	w.snapshot = rep.SnapshotID
	return w
}

// env is the configuration of a run or a settlement; credit sets
// SETTLE_STRIPE_CREDIT=true. The write credentials are always set: runs
// must not use them.
func (w *settleWorld) env(asOf string, credit bool, extra ...string) map[string]string {
	e := w.dirs.env(asOf, "STRIPE_SOURCE", "api", "STRIPE_SECRET_KEY", settleReadKey, "STRIPE_API_BASE", w.stripe.URL,
		"STRIPE_RATE_LIMIT", "1000", "SETTLE_STRIPE_SECRET_KEY", settleWriteKey, "LOG_LEVEL", "error")
	if w.d1 != nil {
		e["REFERRALS_SOURCE"] = "d1"
		e["D1_ACCOUNT_ID"], e["D1_DATABASE_ID"], e["D1_API_TOKEN"], e["D1_API_BASE"] = w.d1.AccountID, w.d1.DatabaseID, w.d1.Token, w.d1.URL
		e["SETTLE_D1_API_TOKEN"] = settleD1Write
	} else {
		e["REFERRALS_SOURCE"] = "sqlite:" + w.dbPath
	}
	if credit {
		e["SETTLE_STRIPE_CREDIT"] = "true"
	}
	if w.bq != nil {
		e["WAREHOUSE"], e["BIGQUERY_ENDPOINT"] = "bigquery:"+bqProject+"."+bqDataset, w.bq.URL()
	}
	if w.public != "" {
		e["PUBLIC_DIR"] = w.public
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(e, extra[i])
		} else {
			e[extra[i]] = extra[i+1]
		}
	}
	return e
}

func (w *settleWorld) settle(t *testing.T, env map[string]string, verb string, args ...string) (int, string, string) {
	t.Helper()
	return runMainEnv(t, env, append([]string{"settle", verb, "--cycle", settleCycle, "--snapshot", w.snapshot}, args...)...)
}

func (w *settleWorld) ledger(t *testing.T) []warehouse.Settlement {
	t.Helper()
	var drv warehouse.LedgerDriver
	if w.bq != nil {
		wh, err := bigquery.Open(t.Context(), bigquery.Config{Project: bqProject, Dataset: bqDataset, Endpoint: w.bq.URL()})
		if err != nil {
			t.Fatal(err)
		}
		defer wh.Close()
		drv = wh
	} else {
		wh, err := sqlitewh.Open(w.dirs.Warehouse)
		if err != nil {
			t.Fatal(err)
		}
		defer wh.Close()
		drv = wh
	}
	e, err := warehouse.NewLedger(drv).Entries(t.Context(), settleCycle)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// checkSettled asserts the end state of a finished settlement with
// credits: every payable award credited exactly once with the SPEC's
// amount, metadata and key, every done referral row written exactly once,
// nothing else written, and the payout file listing every award.
func (w *settleWorld) checkSettled(t *testing.T) {
	t.Helper()
	entries := w.ledger(t)
	txns := map[string][]stripefake.BalanceTransaction{}
	for _, bt := range w.stripe.BalanceTransactions() {
		txns[bt.Metadata["refcode"]] = append(txns[bt.Metadata["refcode"]], bt)
	}
	writes := referralstest.UpdateCounts(t, w.dbPath)
	awards, rows := 0, 0
	for _, e := range entries {
		switch e.EntryKind {
		case warehouse.EntryAward:
			awards++
			got := txns[e.Refcode]
			delete(txns, e.Refcode)
			switch e.State {
			case warehouse.StateDone:
				if len(got) != 1 {
					t.Errorf("award %s: %d balance transactions, want exactly 1", e.Refcode, len(got))
					continue
				}
				bt := got[0]
				if bt.ID != e.BalanceTransactionID || bt.Customer != e.StripeCustomerID || bt.Amount != -e.AwardMinor || bt.Currency != e.Currency ||
					bt.Metadata["cycle"] != settleCycle || bt.Metadata["snapshot"] != w.snapshot {
					t.Errorf("award %s: balance transaction %+v does not match the ledger entry %+v", e.Refcode, bt, e)
				}
				if e.IdempotencyKey != settle.IdempotencyKey(settleCycle, e.Refcode, w.snapshot) {
					t.Errorf("award %s: idempotency key %s", e.Refcode, e.IdempotencyKey)
				}
			case warehouse.StateUnpayable:
				if len(got) != 0 || e.Reason == "" {
					t.Errorf("unpayable award %s: %d credits, reason %q", e.Refcode, len(got), e.Reason)
				}
			default:
				t.Errorf("award %s left in state %s (%s)", e.Refcode, e.State, e.Reason)
			}
		case warehouse.EntryReferral:
			rows++
			n := writes[e.RefereeEmail]
			delete(writes, e.RefereeEmail)
			if e.State == warehouse.StateDone && n != 1 || e.State != warehouse.StateDone && n != 0 {
				t.Errorf("referral row %s (%s): written %d times", e.RefereeEmail, e.State, n)
			}
			if e.State != warehouse.StateDone && e.State != warehouse.StateSkipped {
				t.Errorf("referral row %s left in state %s", e.RefereeEmail, e.State)
			}
		}
	}
	if awards == 0 || rows == 0 {
		t.Fatalf("the settlement has %d awards and %d referral rows; the fixture's cycle-1 has both", awards, rows)
	}
	if len(txns) > 0 {
		t.Errorf("credits no ledger entry names: %v", txns)
	}
	if len(writes) > 0 {
		t.Errorf("rows written that the ledger does not name: %v", writes)
	}
	recs := readCSV(t, filepath.Join(w.dirs.Private, csvreport.PayoutName(settleCycle, w.snapshot)))
	if len(recs) != awards+1 || !reflect.DeepEqual(recs[0], csvreport.PayoutHeader) {
		t.Errorf("payout file: %d lines (header %v), want a header and %d awards", len(recs), recs[0], awards)
	}
}

func TestE2ESettle(t *testing.T) {
	for _, viaD1 := range []bool{false, true} {
		name := "sqlite"
		if viaD1 {
			name = "d1"
		}
		t.Run(name, func(t *testing.T) {
			w := newSettleWorld(t, viaD1)
			if n := w.stripe.CreatingPosts(); n != 0 {
				t.Fatalf("the run made %d POSTs to Stripe", n)
			}
			if len(referralstest.UpdateCounts(t, w.dbPath)) != 0 {
				t.Fatal("the run wrote to the referrals database")
			}
			// The run had the write credentials in its environment and used
			// neither.
			if n := w.stripe.RequestsWithKey(settleWriteKey); n != 0 || w.stripe.RequestsWithKey(settleReadKey) == 0 {
				t.Fatalf("the run sent %d requests with the settlement's Stripe key", n)
			}
			if w.d1 != nil {
				for _, r := range w.d1.Requests() {
					if strings.HasPrefix(strings.ToUpper(r.SQL), "UPDATE") || r.Token != w.d1.Token {
						t.Fatalf("the run sent %s with token %q", r.SQL, r.Token)
					}
				}
			}
			// plan: writes nothing, as a table and as JSON.
			code, out, errOut := w.settle(t, w.env(fixtureAsOf, true), "plan")
			if code != 0 || !strings.Contains(out, "ALICE2025") {
				t.Fatalf("settle plan: exit %d\n%s\n%s", code, out, errOut)
			}
			code, out, errOut = w.settle(t, w.env(fixtureAsOf, true), "plan", "--json")
			if code != 0 {
				t.Fatalf("settle plan --json: exit %d\n%s", code, errOut)
			}
			var plan settle.Plan
			if err := json.Unmarshal([]byte(out), &plan); err != nil {
				t.Fatal(err)
			}
			if plan.Recorded || len(plan.Awards) != 10 || len(plan.Rows) == 0 {
				t.Fatalf("plan: recorded %v, %d awards, %d rows; want not recorded, the 10 awards of cycle-1 and its eligible rows", plan.Recorded, len(plan.Awards), len(plan.Rows))
			}
			if len(w.ledger(t)) != 0 || w.stripe.CreatingPosts() != 0 || len(referralstest.UpdateCounts(t, w.dbPath)) != 0 {
				t.Fatal("settle plan wrote something")
			}

			// apply, then the same apply again: a no-op.
			code, out, errOut = w.settle(t, w.env(fixtureAsOf, true), "apply")
			if code != 0 {
				t.Fatalf("settle apply: exit %d\n%s\n%s", code, out, errOut)
			}
			w.checkSettled(t)
			// The writes used the write credentials.
			if w.stripe.RequestsWithKey(settleWriteKey) == 0 {
				t.Error("the credits were not made with SETTLE_STRIPE_SECRET_KEY")
			}
			if w.d1 != nil {
				for _, r := range w.d1.Requests() {
					if strings.HasPrefix(r.SQL, "UPDATE") && r.Token != settleD1Write {
						t.Errorf("an UPDATE was sent with token %q, want SETTLE_D1_API_TOKEN", r.Token)
					}
				}
			}
			// plan and apply agree: the ledger holds the plan's entries.
			strip := func(es []warehouse.Settlement) []warehouse.Settlement {
				out := make([]warehouse.Settlement, len(es))
				for i, e := range es {
					e.State, e.Reason, e.Seq, e.RecordedAt, e.BalanceTransactionID = "", "", 0, time.Time{}, ""
					out[i] = e
				}
				return out
			}
			planned := strip(plan.Entries())
			got := strip(w.ledger(t))
			if !reflect.DeepEqual(planned, got) {
				t.Errorf("the ledger's entries differ from the plan's:\nplan   %+v\nledger %+v", planned, got)
			}
			for _, e := range plan.Awards {
				if e.State == warehouse.StateUnpayable {
					for _, l := range w.ledger(t) {
						if l.Key() == e.Key() && (l.State != warehouse.StateUnpayable || l.Reason != e.Reason) {
							t.Errorf("plan says %s is unpayable (%s); the ledger says %s (%s)", e.Refcode, e.Reason, l.State, l.Reason)
						}
					}
				}
			}
			posts := w.stripe.CreatingPosts()
			code, out, errOut = w.settle(t, w.env(fixtureAsOf, true), "apply")
			if code != 0 || !strings.Contains(out, "resumed") {
				t.Fatalf("second settle apply: exit %d\n%s\n%s", code, out, errOut)
			}
			if w.stripe.CreatingPosts() != posts {
				t.Error("the second apply created credits")
			}
			w.checkSettled(t)

			// A different SETTLE_STRIPE_CREDIT: refused.
			if code, _, errOut := w.settle(t, w.env(fixtureAsOf, false), "apply"); code != 1 || !strings.Contains(errOut, "method") {
				t.Errorf("apply with SETTLE_STRIPE_CREDIT=false after a credit settlement: exit %d, %s", code, errOut)
			}
			// A later run publishes a newer snapshot: the settled one still
			// resumes (a no-op); settling from the newer one is refused.
			newer := mustRun(t, w.env("2026-04-16T00:00:00Z", false)).SnapshotID
			if code, _, errOut := w.settle(t, w.env(fixtureAsOf, true), "apply"); code != 0 {
				t.Errorf("re-apply from the settled snapshot after a newer run: exit %d, %s", code, errOut)
			}
			code, _, errOut = runMainEnv(t, w.env(fixtureAsOf, true), "settle", "apply", "--cycle", settleCycle, "--snapshot", newer)
			if code != 1 || !strings.Contains(errOut, "already settled from snapshot "+w.snapshot) {
				t.Errorf("apply from another snapshot: exit %d, %s", code, errOut)
			}
			w.checkSettled(t)
		})
	}
}

func TestE2ESettlePreconditions(t *testing.T) {
	w := newSettleWorld(t, false)
	env := w.env(fixtureAsOf, true)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"not final", env, []string{"--cycle", "cycle-2", "--snapshot", w.snapshot}, 1, "not final"},
		{"unknown cycle", env, []string{"--cycle", "cycle-9", "--snapshot", w.snapshot}, 1, "not in snapshot"},
		{"not the latest", env, []string{"--cycle", settleCycle, "--snapshot", "20260101T000000Z-aaaaaaaaaaaa"}, 1, "not the latest"},
		{"warehouse none", w.env(fixtureAsOf, true, "WAREHOUSE", "none"), nil, 2, "WAREHOUSE=none"},
		{"d1dump", w.env(fixtureAsOf, true, "REFERRALS_SOURCE", "d1dump:"+repoFile(t, "fixtures/referrals.sql")), nil, 2, "d1dump"},
		{"no write key", w.env(fixtureAsOf, true, "SETTLE_STRIPE_SECRET_KEY", ""), nil, 2, "SETTLE_STRIPE_SECRET_KEY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if args == nil {
				args = []string{"--cycle", settleCycle, "--snapshot", w.snapshot}
			}
			code, _, errOut := runMainEnv(t, c.env, append([]string{"settle", "apply"}, args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, c.code, errOut, c.want)
			}
			if strings.Contains(errOut, settleWriteKey) || strings.Contains(errOut, settleReadKey) {
				t.Errorf("stderr holds a key: %s", errOut)
			}
		})
	}
	if len(w.ledger(t)) != 0 || w.stripe.CreatingPosts() != 0 || len(referralstest.UpdateCounts(t, w.dbPath)) != 0 {
		t.Error("a refused settlement wrote something")
	}
}

// The ledger in BigQuery (the fake, through the real client): the run loads
// the snapshot's referral_decisions, the settlement reads them back and
// appends its ledger rows with load jobs; a second apply is a no-op.
func TestE2ESettleBigQuery(t *testing.T) {
	fake := bqfake.New()
	t.Cleanup(fake.Close)
	w := newSettleWorldIn(t, &settleWorld{dirs: newDirs(t), bq: fake}, false, nil)
	for range 2 {
		if code, out, errOut := w.settle(t, w.env(fixtureAsOf, true), "apply"); code != 0 {
			t.Fatalf("settle apply: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	w.checkSettled(t)
	if rows := fake.Rows(bqProject, bqDataset, warehouse.TableSettlements); len(rows) == 0 {
		t.Error("no settlements rows in BigQuery")
	}
	if _, err := os.Stat(w.dirs.Warehouse); err == nil {
		t.Error("a SQLite warehouse was written with WAREHOUSE=bigquery")
	}
}

// Failures a settlement records and then finishes: Stripe refusing one
// credit (a 4xx: failed, the others go on, exit 1; the next apply credits
// it), a referrer with two matching customers (unpayable, both ids), and
// referral rows deleted, re-pointed or rewarded by someone else since the
// snapshot (skipped, never written).
func TestE2ESettleFailures(t *testing.T) {
	extra := []byte(`{"object":"customer","id":"cus_bob_1","email":"bob.martin@example.org"}
{"object":"customer","id":"cus_bob_2","email":"Bob.Martin+shop@example.org"}
{"object":"customer","id":"cus_dan","email":"dan.okafor@example.com"}
`)
	w := newSettleWorldWith(t, false, extra)
	// Change three eligible rows after the snapshot.
	code, out, errOut := w.settle(t, w.env(fixtureAsOf, true), "plan", "--json")
	if code != 0 {
		t.Fatalf("plan: exit %d %s", code, errOut)
	}
	var plan settle.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	gone, moved, paid := plan.Rows[0].RefereeEmail, plan.Rows[1].RefereeEmail, plan.Rows[2].RefereeEmail
	db, err := sql.Open("sqlite", referrals.FileURI(w.dbPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql string
		arg string
	}{
		{"DELETE FROM referrals WHERE email = ?", gone},
		{"UPDATE referrals SET refcode = 'KIRA' WHERE email = ?", moved},
		{"UPDATE referrals SET rewarded = 1 WHERE email = ?", paid},
	} {
		if _, err := db.Exec(q.sql, q.arg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("DELETE FROM rewarded_log"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Stripe refuses the first credit POST to cus_dan once.
	w.stripe.Inject(stripefake.Fault{Path: "/v1/customers/cus_dan/balance_transactions", After: 1, Count: 1, Status: 400})

	code, _, errOut = w.settle(t, w.env(fixtureAsOf, true), "apply")
	if code != 1 || !strings.Contains(errOut, "DANO") {
		t.Fatalf("apply with a refused credit: exit %d, %s; want 1 naming DANO", code, errOut)
	}
	state := func() map[string]warehouse.Settlement {
		m := map[string]warehouse.Settlement{}
		for _, e := range w.ledger(t) {
			m[e.Refcode+"|"+e.RefereeEmail] = e
		}
		return m
	}
	st := state()
	if e := st["DANO|"]; e.State != warehouse.StateFailed || !strings.Contains(e.Reason, "400") {
		t.Errorf("DANO after a 400: %s (%s), want failed with Stripe's answer", e.State, e.Reason)
	}
	if e := st["ALICE2025|"]; e.State != warehouse.StateDone {
		t.Errorf("ALICE2025: %s, want done (a failed award does not stop the others)", e.State)
	}
	if e := st["bob-refers|"]; e.State != warehouse.StateUnpayable || !strings.Contains(e.Reason, "cus_bob_1, cus_bob_2") {
		t.Errorf("bob-refers with two customers: %s (%s), want unpayable naming both", e.State, e.Reason)
	}
	for email, want := range map[string]string{gone: "gone", moved: "refcode changed", paid: "already rewarded"} {
		var e warehouse.Settlement
		for _, x := range st {
			if x.RefereeEmail == email {
				e = x
			}
		}
		if e.State != warehouse.StateSkipped || !strings.Contains(e.Reason, want) {
			t.Errorf("row %s: %s (%s), want skipped: %s", email, e.State, e.Reason, want)
		}
	}
	// The next apply credits DANO (Stripe accepts it now) and nothing else.
	code, _, errOut = w.settle(t, w.env(fixtureAsOf, true), "apply")
	if code != 0 {
		t.Fatalf("second apply: exit %d, %s", code, errOut)
	}
	if e := state()["DANO|"]; e.State != warehouse.StateDone || e.BalanceTransactionID == "" {
		t.Errorf("DANO after the second apply: %s, want done with a balance transaction", e.State)
	}
	w.checkSettled(t)
}

// PUBLIC_DIR as an S3 bucket (the fake, through the real s3blob client):
// the settlement reads latest.json and the leaderboard from it and holds
// its lock object.
func TestE2ESettleBucket(t *testing.T) {
	srv := s3fake.Start(t, "site")
	w := newSettleWorldIn(t, &settleWorld{dirs: newDirs(t), public: srv.URL("site", "public")}, false, nil)
	if code, out, errOut := w.settle(t, w.env(fixtureAsOf, true), "apply"); code != 0 {
		t.Fatalf("settle apply: exit %d\n%s\n%s", code, out, errOut)
	}
	w.checkSettled(t)
	if _, err := os.Stat(w.dirs.Public); err == nil {
		t.Error("a local PUBLIC_DIR was written with PUBLIC_DIR=s3://")
	}
}

// readCSV returns the records of the CSV file at path.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}
