package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/schema"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"
	"github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/rs/zerolog"
)

// embeddedStripe reads the Stripe export shipped in fixtures.
type embeddedStripe struct{}

func (embeddedStripe) ReadStripe(ctx context.Context) (pipeline.Stripe, error) {
	return export.Read(ctx, bytes.NewReader(fixtures.StripeNDJSON))
}

// fixturePlan is a run of the shipped fixtures at asOf into fresh
// directories under root.
func fixturePlan(t *testing.T, root, asOf string, logs *bytes.Buffer) reconcile.Plan {
	t.Helper()
	at, err := time.Parse(time.RFC3339, asOf)
	if err != nil {
		t.Fatal(err)
	}
	wh := filepath.Join(root, "warehouse.sqlite")
	return reconcile.Plan{
		AsOf:           at,
		Cycles:         pipeline.DefaultCycleSet(),
		CodeVersion:    "test",
		Referrals:      sqlitesrc.NewImage("(embedded fixture)", fixtures.ReferralsSQLite),
		Stripe:         embeddedStripe{},
		Warehouse:      func(context.Context) (reconcile.Warehouse, error) { return sqlitewh.Open(wh) },
		Public:         localdir.Open(filepath.Join(root, "public")),
		PrivateDir:     filepath.Join(root, "private"),
		RecordsPerPage: 25,
		Log:            zerolog.New(zerolog.SyncWriter(logs)),
	}
}

// mustRun runs p and fails the test, with the run's log, when the run fails.
func mustRun(t *testing.T, p reconcile.Plan, logs *bytes.Buffer) reconcile.Report {
	t.Helper()
	rep, err := reconcile.Run(t.Context(), p)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	return rep
}

// A run publishes the snapshot it reports, and emits one "run finished"
// record with its run id.
func TestRunPublishesWhatItReports(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	p := fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)
	p.RunID = "0123456789abcdef"
	rep := mustRun(t, p, &logs)
	if rep.Status != "ok" || rep.RunID != p.RunID || rep.Result == nil || rep.Counts.Referrals != 254 {
		t.Fatalf("report %+v: want ok, run id %s, a result, 254 referrals", rep, p.RunID)
	}
	latest, err := os.ReadFile(filepath.Join(p.Public.String(), "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(latest), `"snapshots/`+rep.SnapshotID+`/"`) {
		t.Errorf("latest.json %s does not name the reported snapshot %s", latest, rep.SnapshotID)
	}
	if err := schema.ValidateSnapshot(os.DirFS(p.Public.String())); err != nil {
		t.Error(err)
	}
	if n := strings.Count(logs.String(), `"run_id":"0123456789abcdef","event":"run_finished"`); n != 1 {
		t.Errorf("%d run finished records with the run id, want 1:\n%s", n, logs.String())
	}
}

// A private stage that fails after the public snapshot was staged aborts
// it: no new snapshot directory, no temporary directory, latest.json and
// the previous snapshot as they were.
func TestFailedPrivateAbortsStagedPublish(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	first := mustRun(t, fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs), &logs)
	snapshotsDir := filepath.Join(root, "public", "snapshots")
	latestBefore, err := os.ReadFile(filepath.Join(root, "public", "latest.json"))
	if err != nil {
		t.Fatal(err)
	}

	p := fixturePlan(t, root, "2026-04-16T00:00:00Z", &logs)
	p.PrivateDir = filepath.Join(root, "private-is-a-file")
	if err := os.WriteFile(p.PrivateDir, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var staged []string
	p.OnStaged = func(s *public.Staged, err error) {
		if err != nil || s == nil {
			t.Errorf("Prepare: %v", err)
			return
		}
		staged = tempDirs(t, snapshotsDir)
	}
	rep, err := reconcile.Run(t.Context(), p)
	if err == nil || !strings.Contains(err.Error(), p.PrivateDir) {
		t.Fatalf("run with PRIVATE_DIR a file: error %v, want the private stage's", err)
	}
	if len(staged) != 1 {
		t.Fatalf("staged directories while the private outputs were written: %v, want one", staged)
	}
	if rep.Status != "failed" || rep.SnapshotID == "" || rep.SnapshotID == first.SnapshotID || rep.Result != nil {
		t.Fatalf("report %+v: want failed, the new snapshot id, no result", rep)
	}
	if _, err := os.Stat(filepath.Join(snapshotsDir, rep.SnapshotID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("snapshots/%s exists after the failed run (err %v)", rep.SnapshotID, err)
	}
	if left := tempDirs(t, snapshotsDir); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
	if latest, err := os.ReadFile(filepath.Join(root, "public", "latest.json")); err != nil || !bytes.Equal(latest, latestBefore) {
		t.Errorf("latest.json after the failed run: %s (err %v), want %s", latest, err, latestBefore)
	}
}

// tempDirs lists the staging directories (.tmp-*) under dir.
func tempDirs(t *testing.T, dir string) []string {
	t.Helper()
	return entries(t, dir, ".tmp-")
}

// entries lists the names in dir that start with prefix.
func entries(t *testing.T, dir, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// notingStripe is the embedded export with an object of a type the export
// skips, so that the read notes it.
type notingStripe struct{}

func (notingStripe) ReadStripe(ctx context.Context) (pipeline.Stripe, error) {
	data := append(bytes.Clone(fixtures.StripeNDJSON), `{"id":"ch_1","object":"charge"}`+"\n"...)
	return export.Read(ctx, bytes.NewReader(data))
}

// What a source notices comes back with what it read: the run reports it,
// logs it and writes it into the manifest.
func TestSourceNotesTravelWithTheRead(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	p := fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)
	p.Stripe = notingStripe{}
	rep := mustRun(t, p, &logs)
	const note = `skipped 1 object of unknown type "charge"`
	if len(rep.Notes) != 1 || rep.Notes[0] != note {
		t.Errorf("report notes %q, want [%q]", rep.Notes, note)
	}
	if !strings.Contains(logs.String(), `"note":"skipped 1 object of unknown type \"charge\""`) {
		t.Errorf("the note is not logged:\n%s", logs.String())
	}
	manifest, err := os.ReadFile(filepath.Join(root, "public", "snapshots", rep.SnapshotID, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), `skipped 1 object of unknown type \"charge\"`) {
		t.Errorf("the manifest does not carry the note:\n%s", manifest)
	}
}
