package bigquery_test

import (
	"context"
	"fmt"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/bigquery/bqfake"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

func ExampleOpen() {
	ctx := context.Background()
	// In production: Config{Project: "acme-finance", Dataset: "refrecon",
	// Location: "US"} and Application Default Credentials. Here: the fake.
	fake := bqfake.New()
	defer fake.Close()
	w, err := bigquery.Open(ctx, bigquery.Config{
		Project: "acme-finance", Dataset: "refrecon", Location: "US",
		Endpoint: fake.URL(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()

	day := civil.Date{Year: 2026, Month: 4, Day: 15}
	snap := warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa")
	for range 2 { // a re-run of the same day replaces it
		if err := w.WriteSnapshot(ctx, snap.Snapshot()); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(len(fake.Rows("acme-finance", "refrecon", "runs")), "run,",
		len(fake.Rows("acme-finance", "refrecon", "leaderboard_entries")), "leaderboard entries")
	fmt.Println("partitions:", fake.Partitions("acme-finance", "refrecon", "leaderboard_entries"))
	// Output:
	// 1 run, 4 leaderboard entries
	// partitions: [20260415]
}
