package workbook_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	"github.com/refrecon/refrecon/sinks/workbook"
)

// bigResult is one pie-split cycle with n ranked referrers and n revenue
// events: 2n table rows.
func bigResult(n int) *pipeline.Result {
	cr := pipeline.CycleResult{Cycle: cycle("cycle-big", "usd", pipeline.PieSplit, 100_000_000), Status: pipeline.Active}
	res := &pipeline.Result{AsOf: asOf}
	for i := range n {
		rc := "ref" + strconv.Itoa(i)
		cr.Leaderboard = append(cr.Leaderboard, pipeline.Entry{Rank: i + 1, Refcode: rc, Score: int64(n - i), Referrals: 3,
			Conversions: int64(n - i), Revenue: int64(1000 + i), Qualified: i < 10, Award: int64(i % 977)})
		cr.Events = append(cr.Events, pipeline.AccountingLine{InvoiceID: "in_" + strconv.Itoa(i), CustomerID: "cus_" + strconv.Itoa(i),
			Refcode: rc, RefereeEmail: "referee" + strconv.Itoa(i) + "@example.com", PaidAt: 1772755200 + int64(i), Net: 1999,
			AccumulatedRevenue: 1999})
		res.Referrers = append(res.Referrers, pipeline.User{Email: "referrer" + strconv.Itoa(i) + "@example.com", Refcode: rc})
	}
	res.Cycles = []pipeline.CycleResult{cr}
	return res
}

// peakHeap samples the live heap every millisecond until stop is closed.
func peakHeap() (stop func() uint64) {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak
	}
}

// BenchmarkWorkbook100k writes a workbook of 100k referrers and 100k revenue
// events. It reports bytes allocated per op (-benchmem), the peak in-use heap
// above the heap holding the inputs (peak-heap-MiB), and the file size.
func BenchmarkWorkbook100k(b *testing.B) { benchmarkWorkbook(b, 100_000) }

// BenchmarkWorkbook300k is the same at 300k referrers: the peak heap should
// not grow with the rows.
func BenchmarkWorkbook300k(b *testing.B) { benchmarkWorkbook(b, 300_000) }

// BenchmarkWorkbook12Cycles is 100k referrers and revenue events spread over
// 12 cycles, as in a run of 100k referrals: sheets small enough for
// excelize to keep each stream in memory, where a call that reads every
// worksheet (SetActiveSheet, DeleteSheet) would decode them all again.
func BenchmarkWorkbook12Cycles(b *testing.B) { benchmarkResult(b, twelveCycles(), 2*100_000/12*12) }

// twelveCycles is 100k referrers and revenue events spread over 12 cycles.
func twelveCycles() *pipeline.Result {
	res := bigResult(100_000 / 12)
	one := res.Cycles[0]
	res.Cycles = nil
	for i := range 12 {
		cr := one
		cr.Cycle.ID = "cycle-" + strconv.Itoa(i)
		res.Cycles = append(res.Cycles, cr)
	}
	return res
}

// BenchmarkWorkbook12CyclesSpooled is BenchmarkWorkbook12Cycles with the
// comparison with the previous snapshot coming only once the spool has
// deflated every other sheet: the spool's cost when it does all it can.
func BenchmarkWorkbook12CyclesSpooled(b *testing.B) {
	res := twelveCycles()
	var spool *workbook.Spool
	defer workbook.OnSpool(func(s *workbook.Spool) { spool = s })()
	later := func() *snapdiff.Diff {
		<-spool.Idle()
		return nil
	}
	benchmarkInput(b, workbook.Input{Info: info, Result: res, LaterChanges: later}, 2*100_000/12*12)
}

// BenchmarkWorkbook12CyclesNextNight is BenchmarkWorkbook12Cycles the next
// night: the previous snapshot's workbook of the same result is beside it
// (CarryFrom), so every cycle's sheets are copied from it after being
// encoded into a digest (carry.go), the best case of the carry.
func BenchmarkWorkbook12CyclesNextNight(b *testing.B) {
	res := twelveCycles()
	prev := b.TempDir()
	if _, err := workbook.Write(context.Background(), prev, workbook.Input{Info: info, Result: res}); err != nil {
		b.Fatal(err)
	}
	next := info
	next.SnapshotID = "20260416T000000Z-0123456789ab"
	in := workbook.Input{Info: next, Result: res, CarryFrom: prev}
	if w, err := workbook.Write(context.Background(), b.TempDir(), in); err != nil || w.Copied == 0 {
		b.Fatalf("%d sheets copied from the previous workbook, %v", w.Copied, err)
	}
	benchmarkInput(b, in, 2*100_000/12*12)
}

// BenchmarkWorkbookUnranked is the shape of a 1M run's referrer tables:
// 100k referrers in refcode order (as the pipeline gives them), 12 cycles
// that each rank 5k of them and list the rest unranked, in refcode order.
func BenchmarkWorkbookUnranked(b *testing.B) {
	const users, cycles = 100_000, 12
	res := &pipeline.Result{AsOf: asOf}
	for i := range users {
		res.Referrers = append(res.Referrers, pipeline.User{Email: "referrer" + strconv.Itoa(i) + "@example.com",
			Refcode: fmt.Sprintf("r%07d", i)})
	}
	for c := range cycles {
		cr := pipeline.CycleResult{Cycle: cycle("cycle-"+strconv.Itoa(c), "usd", pipeline.PieSplit, 100_000_000), Status: pipeline.Active}
		for i, u := range res.Referrers {
			e := pipeline.Entry{Refcode: u.Refcode, Referrals: 1, Revenue: int64(i % 5000)}
			if (i*7+c)%20 == 0 {
				e.Rank, e.Score, e.Conversions = len(cr.Leaderboard)+1, int64(users-i), 1
				cr.Leaderboard = append(cr.Leaderboard, e)
			} else {
				cr.Unranked = append(cr.Unranked, e)
			}
		}
		res.Cycles = append(res.Cycles, cr)
	}
	benchmarkResult(b, res, users*cycles)
}

func benchmarkWorkbook(b *testing.B, n int) { benchmarkResult(b, bigResult(n), 2*n) }

func benchmarkResult(b *testing.B, res *pipeline.Result, rows int) {
	benchmarkInput(b, workbook.Input{Info: info, Result: res}, rows)
}

func benchmarkInput(b *testing.B, in workbook.Input, rows int) {
	// A tight GC target, so that the sampled heap is what the writer holds
	// rather than garbage the collector has not reached yet.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	dir := b.TempDir()
	b.ReportAllocs()
	var worst uint64
	var size int64
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		stop := peakHeap()
		w, err := workbook.Write(context.Background(), dir, in)
		if err != nil {
			b.Fatal(err)
		}
		if p := stop(); p > base {
			worst = max(worst, p-base)
		}
		st, err := os.Stat(w.Path)
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
	}
	b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(size)/(1<<20), "file-MiB")
	b.ReportMetric(float64(rows), "rows")
}
