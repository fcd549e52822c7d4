package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"
	"github.com/rs/zerolog"
)

// A Plan is every dependency of a run, built and checked beforehand (in
// refrecon, by newPlan from the environment); Run reads, computes, writes
// and publishes.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "reconcile-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	rep, err := reconcile.Run(context.Background(), reconcile.Plan{
		AsOf:           time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC),
		Cycles:         pipeline.DefaultCycleSet(),
		CodeVersion:    "example",
		Referrals:      sqlitesrc.NewImage("(embedded fixture)", fixtures.ReferralsSQLite),
		Stripe:         embeddedStripe{},
		Warehouse:      nil, // WAREHOUSE=none
		Public:         localdir.Open(filepath.Join(dir, "public")),
		PrivateDir:     filepath.Join(dir, "private"),
		RecordsPerPage: 25,
		Log:            zerolog.Nop(),
	})
	if err != nil {
		fmt.Println("run failed:", err)
		return
	}
	_, err = os.Stat(filepath.Join(dir, "public", "snapshots", rep.SnapshotID, "manifest.json"))
	fmt.Println(rep.Status, len(rep.Result.Cycles), "cycles; manifest published:", err == nil)
	// Output: ok 2 cycles; manifest published: true
}
