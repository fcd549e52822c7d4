package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
	"github.com/refrecon/refrecon/sources/referrals/d1/d1fake"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
)

const e2eStripeKey = "sk_test_51E2eKeyThatMustNeverBePrinted"

// baseline is the default run on the embedded fixtures: its public tree and
// warehouse rows.
type baseline struct {
	dirs       e2eDirs
	snapshotID string
	public     map[string][]byte
}

func runBaseline(t *testing.T) baseline {
	t.Helper()
	d := newDirs(t)
	rep := mustRun(t, d.env(fixtureAsOf))
	return baseline{dirs: d, snapshotID: rep.SnapshotID, public: readTree(t, d.Public)}
}

// check runs with the extra configuration and compares the public tree and
// warehouse rows with the baseline's.
func (b baseline) check(t *testing.T, extra ...string) e2eDirs {
	t.Helper()
	d := newDirs(t)
	rep := mustRun(t, d.env(fixtureAsOf, extra...))
	if rep.SnapshotID != b.snapshotID {
		t.Errorf("snapshot id %s, want %s", rep.SnapshotID, b.snapshotID)
	}
	// The manifests record the kind of each source, which differs by
	// design; everything else is the same bytes.
	if diff := diffTrees(withoutSources(b.public), withoutSources(readTree(t, d.Public))); diff != "" {
		t.Errorf("public tree differs from the embedded run's:\n%s", diff)
	}
	want := readSQLiteWarehouse(t, b.dirs.Warehouse, fixtureDay())
	got := readSQLiteWarehouse(t, d.Warehouse, fixtureDay())
	if diff := warehousetest.Diff(want, got); diff != "" {
		t.Errorf("warehouse rows differ from the embedded run's:\n%s", diff)
	}
	return d
}

func stripeAPIEnv(fake *stripefake.Server) []string {
	return []string{"STRIPE_SOURCE", "api", "STRIPE_SECRET_KEY", e2eStripeKey, "STRIPE_API_BASE", fake.URL, "STRIPE_RATE_LIMIT", "1000"}
}

// Issue 4's done criterion: the live Stripe source (against the fake,
// loaded with the fixture export) gives the same snapshot as the export
// file and the embedded fixture.
func TestE2EStripeParity(t *testing.T) {
	t.Parallel()
	base := runBaseline(t)
	t.Run("file", func(t *testing.T) {
		base.check(t, "STRIPE_SOURCE", "file:"+repoFile(t, "fixtures/stripe.ndjson"))
	})
	t.Run("api", func(t *testing.T) {
		fake := stripefake.New(t, e2eStripeKey, fixtures.StripeNDJSON)
		base.check(t, stripeAPIEnv(fake)...)
		if fake.Requests("/v1/invoices") < 3 {
			t.Errorf("%d invoice list requests: is the fake paginating 238 invoices?", fake.Requests("/v1/invoices"))
		}
	})
	t.Run("api with 429s", func(t *testing.T) {
		// Two 429s in a row on customers and one on invoices: with the
		// transport's default backoff (250-500 ms, then 500-1000 ms) the
		// run waits at most 1.5 s.
		fake := stripefake.New(t, e2eStripeKey, fixtures.StripeNDJSON)
		fake.Inject(stripefake.Fault{Path: "/v1/customers", After: 1, Count: 2, Status: 429, RetryAfter: "0"})
		fake.Inject(stripefake.Fault{Path: "/v1/invoices", Count: 1, Status: 429})
		clean := stripefake.New(t, e2eStripeKey, fixtures.StripeNDJSON)
		base.check(t, stripeAPIEnv(fake)...)
		d := newDirs(t)
		mustRun(t, d.env(fixtureAsOf, stripeAPIEnv(clean)...))
		if got, want := fake.Requests("/v1/customers"), clean.Requests("/v1/customers")+2; got != want {
			t.Errorf("%d customer list requests, want %d (the 429s retried)", got, want)
		}
	})
}

// A Stripe API that keeps failing fails the run: exit 1, nothing
// published, an error that names Stripe and never the key.
func TestE2EStripeFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    stripefake.Fault
		deadline time.Duration // 0 = none
	}{
		// Stripe says not to retry: the run fails at once.
		{"500 not retryable", stripefake.Fault{Path: "/v1/invoices", Count: -1, Status: 500, ShouldRetry: "false"}, 0},
		// Retried 500s: the transport's default backoff (6 retries, up
		// to 31 s) is not configurable from cmd/refrecon, so the run is
		// bounded by a deadline, as a CronJob's activeDeadlineSeconds would.
		{"500 retried until the deadline", stripefake.Fault{Path: "/v1/invoices", Count: -1, Status: 500}, 1200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			fake := stripefake.New(t, e2eStripeKey, fixtures.StripeNDJSON)
			env := d.env(fixtureAsOf, "LOG_LEVEL", "error")
			code, _, stderr := runMainEnv(t, env, "run")
			if code != exitOK {
				t.Fatalf("first run: exit %d: %s", code, stderr)
			}
			before := readTree(t, d.Public)

			fake.Inject(tc.fault)
			env = d.env("2026-04-16T00:00:00Z", append(stripeAPIEnv(fake), "LOG_LEVEL", "error")...)
			setEnv(t, env)
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			var out, errb bytes.Buffer
			code = runMain(ctx, []string{"run"}, &out, &errb)
			if code != exitFailed {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailed, errb.String())
			}
			if !strings.Contains(strings.ToLower(errb.String()), "stripe") {
				t.Errorf("the error does not name Stripe:\n%s", errb.String())
			}
			if strings.Contains(errb.String()+out.String(), e2eStripeKey) {
				t.Error("the Stripe key was printed")
			}
			if diff := diffTrees(before, readTree(t, d.Public)); diff != "" {
				t.Errorf("a failed run changed the public tree:\n%s", diff)
			}
		})
	}
}

// Issue 5's done criterion: the D1 API (fake, over a copy of the fixture
// database), the SQLite file and the wrangler dump give the embedded run's
// public files and warehouse rows.
func TestE2EReferralSourcesParity(t *testing.T) {
	t.Parallel()
	base := runBaseline(t)
	copyPath := filepath.Join(t.TempDir(), "referrals.sqlite")
	if err := os.WriteFile(copyPath, fixtures.ReferralsSQLite, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("sqlite", func(t *testing.T) {
		base.check(t, "REFERRALS_SOURCE", "sqlite:"+copyPath)
	})
	t.Run("d1dump", func(t *testing.T) {
		base.check(t, "REFERRALS_SOURCE", "d1dump:"+repoFile(t, "fixtures/referrals.sql"))
	})
	t.Run("d1", func(t *testing.T) {
		d1Copy := filepath.Join(t.TempDir(), "d1.sqlite")
		if err := os.WriteFile(d1Copy, fixtures.ReferralsSQLite, 0o644); err != nil {
			t.Fatal(err)
		}
		srv := d1fake.NewServer(t, d1Copy)
		base.check(t, "REFERRALS_SOURCE", "d1", "D1_ACCOUNT_ID", srv.AccountID, "D1_DATABASE_ID", srv.DatabaseID,
			"D1_API_TOKEN", srv.Token, "D1_API_BASE", srv.URL)
		if len(srv.Requests()) < 2 {
			t.Errorf("%d requests reached the fake D1 API", len(srv.Requests()))
		}
	})
}
