package bigquery_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/bigquery/bqfake"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
	"github.com/refrecon/refrecon/sources/retry"
)

type uploadFault struct {
	name  string
	fault bqfake.UploadFault
}

// networkFaults are the faults of the connection on a load upload: a reset
// connection and an answer cut short after the job ran.
var networkFaults = []uploadFault{
	{"reset", bqfake.UploadFault{Reset: true}},
	{"truncated answer", bqfake.UploadFault{Truncate: true}},
}

// Network faults on a load upload (a reset connection, an answer cut
// short after the job ran, a 429) are retried whole: WRITE_TRUNCATE on the
// day's partition makes a repeated load safe, and the rows come out whole.
func TestUploadNetworkFaultsAreRetried(t *testing.T) {
	for _, tc := range append(networkFaults, uploadFault{"429", bqfake.UploadFault{Status: 429}}) {
		t.Run(tc.name, func(t *testing.T) {
			fake, w := open(t, bigquery.Config{})
			fake.FailNextUploadsWith(2, tc.fault)
			s := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
			if err := w.WriteSnapshot(context.Background(), s.Snapshot()); err != nil {
				t.Fatalf("WriteSnapshot with two faulty uploads: %v", err)
			}
			if n := fake.Requests("jobs.insert"); n < len(warehouse.Tables())+2 {
				t.Errorf("jobs.insert: %d calls, want at least %d", n, len(warehouse.Tables())+2)
			}
			warehousetest.Check(context.Background(), t, w, s)
		})
	}
}

// The network faults, persistent, end the write after MaxAttempts with an
// error that names the partition.
func TestUploadNetworkFaultsGiveUp(t *testing.T) {
	for _, tc := range networkFaults {
		t.Run(tc.name, func(t *testing.T) {
			fake, w := open(t, bigquery.Config{Retry: retry.Policy{MaxAttempts: 3}})
			fake.FailNextUploadsWith(100, tc.fault)
			err := w.WriteSnapshot(context.Background(), warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
			if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || !strings.Contains(err.Error(), "$20260415") {
				t.Fatalf("error %v, want giving up after 3 attempts on a partition", err)
			}
		})
	}
}

// Rows spooled to temporary files (here: every table, with a tiny memory
// spool) are loaded again on a retry and the files are removed after the
// write, also after a failed one.
func TestSpooledRowsAreRetriedAndRemoved(t *testing.T) {
	defer bigquery.SetSpoolMemory(16)()
	dir := t.TempDir()
	fake, w := open(t, bigquery.Config{TempDir: dir})
	fake.FailNextUploadsWith(2, bqfake.UploadFault{Reset: true})
	s := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	if err := w.WriteSnapshot(context.Background(), warehousetest.Stream(s)); err != nil {
		t.Fatalf("WriteSnapshot with two reset uploads: %v", err)
	}
	warehousetest.Check(context.Background(), t, w, s)
	checkEmpty := func() {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	checkEmpty()

	fake.FailNextUploads(100, 400)
	if err := w.WriteSnapshot(context.Background(), s.Snapshot()); err == nil {
		t.Fatal("WriteSnapshot with failing uploads: nil error")
	}
	checkEmpty()

	bad := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
	bad.Subscriptions[1].SnapshotDate = day2
	err := w.WriteSnapshot(context.Background(), warehousetest.Stream(bad))
	if err == nil || !strings.Contains(err.Error(), "subscriptions row 1 has snapshot_date 2026-04-16") {
		t.Fatalf("error %v, want the row of another date named", err)
	}
	checkEmpty()
}
