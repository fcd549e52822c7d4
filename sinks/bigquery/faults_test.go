package bigquery_test

import (
	"context"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/bigquery/bqfake"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

// Network faults on a load upload (a reset connection, an answer cut
// short after the job ran, a 429) are retried whole: WRITE_TRUNCATE on the
// day's partition makes a repeated load safe, and the rows come out whole.
func TestUploadNetworkFaultsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault bqfake.UploadFault
	}{
		{"reset", bqfake.UploadFault{Reset: true}},
		{"truncated answer", bqfake.UploadFault{Truncate: true}},
		{"429", bqfake.UploadFault{Status: 429}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, w := open(t, bigquery.Config{})
			fake.FailNextUploadsWith(2, tc.fault)
			s := warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa")
			if err := w.WriteSnapshot(context.Background(), s); err != nil {
				t.Fatalf("WriteSnapshot with two faulty uploads: %v", err)
			}
			if n := fake.Requests("jobs.insert"); n < len(warehouse.Tables())+2 {
				t.Errorf("jobs.insert: %d calls, want at least %d", n, len(warehouse.Tables())+2)
			}
			warehousetest.Check(context.Background(), t, w, s)
		})
	}
}

// The same faults, persistent, end the write after MaxAttempts with an
// error that names the partition.
func TestUploadNetworkFaultsGiveUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault bqfake.UploadFault
	}{
		{"reset", bqfake.UploadFault{Reset: true}},
		{"truncated answer", bqfake.UploadFault{Truncate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, w := open(t, bigquery.Config{MaxAttempts: 3})
			fake.FailNextUploadsWith(100, tc.fault)
			err := w.WriteSnapshot(context.Background(), warehousetest.Sample(day1, "20260415T000000Z-aaaaaaaaaaaa"))
			if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || !strings.Contains(err.Error(), "$20260415") {
				t.Fatalf("error %v, want giving up after 3 attempts on a partition", err)
			}
		})
	}
}
