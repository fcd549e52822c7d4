package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/pipeline"
)

type failingStripe struct{}

func (failingStripe) ReadStripe(context.Context) (pipeline.Stripe, error) {
	return pipeline.Stripe{}, errors.New("stripe is down")
}

// reviewReports lists the review reports (report-*) in dir.
func reviewReports(t *testing.T, dir string) []string {
	t.Helper()
	return entries(t, dir, "report-")
}

// Two fixture runs a day apart: each leaves its workbook and HTML report
// beside the CSVs, the second compares with the first, and a failed third
// run leaves the second's reports.
func TestRunWritesReviewReportsWithChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	p := fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)
	first, err := reconcile.Run(t.Context(), p)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	if first.Changes != nil {
		t.Errorf("first run has changes %+v", first.Changes)
	}
	want := []string{"report-" + first.SnapshotID + ".html", "report-" + first.SnapshotID + ".xlsx"}
	if got := reviewReports(t, p.PrivateDir); !slices.Equal(got, want) {
		t.Fatalf("after the first run: %v, want %v", got, want)
	}

	p2 := fixturePlan(t, root, "2026-04-16T00:00:00Z", &logs)
	second, err := reconcile.Run(t.Context(), p2)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	if second.Changes == nil || second.Changes.Old != first.SnapshotID || second.Changes.New != second.SnapshotID {
		t.Fatalf("second run's changes %+v, want against %s", second.Changes, first.SnapshotID)
	}
	if second.Changes.Empty() {
		t.Error("a day later nothing changed (statuses, pending amounts move with asOf in the fixtures)")
	}
	want = []string{"report-" + second.SnapshotID + ".html", "report-" + second.SnapshotID + ".xlsx"}
	if got := reviewReports(t, p.PrivateDir); !slices.Equal(got, want) {
		t.Fatalf("after the second run: %v, want %v", got, want)
	}
	html, err := os.ReadFile(filepath.Join(p.PrivateDir, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "since "+first.SnapshotID) {
		t.Error("the HTML report does not carry the changes since the first snapshot")
	}

	p3 := fixturePlan(t, root, "2026-04-17T00:00:00Z", &logs)
	p3.Stripe = failingStripe{}
	if _, err := reconcile.Run(t.Context(), p3); err == nil {
		t.Fatal("run with a failing source succeeded")
	}
	if got := reviewReports(t, p.PrivateDir); !slices.Equal(got, want) {
		t.Fatalf("after a failed run: %v, want the second run's %v", got, want)
	}
}
