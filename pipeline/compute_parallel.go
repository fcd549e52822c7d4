package pipeline

import (
	"runtime"
	"slices"
	"sync"
)

// parallelMinChunk is the smallest slice worth splitting between cores.
const parallelMinChunk = 4096

// parallelRanges calls fn on consecutive ranges of [0, n) on every core and
// waits for them. fn must only write state owned by its range.
func parallelRanges(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || n < 2*parallelMinChunk {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		wg.Go(func() { fn(lo, min(lo+chunk, n)) })
	}
	wg.Wait()
}

// parallelSortFunc sorts s by a total order cmp, the halves on two cores
// and then merged.
func parallelSortFunc[T any](s []T, cmp func(a, b T) int) {
	if runtime.GOMAXPROCS(0) < 2 || len(s) < 2*parallelMinChunk {
		slices.SortFunc(s, cmp)
		return
	}
	mid := len(s) / 2
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(s[:mid], cmp) })
	slices.SortFunc(s[mid:], cmp)
	wg.Wait()
	merged := make([]T, 0, len(s))
	i, j := 0, mid
	for i < mid && j < len(s) {
		if cmp(s[j], s[i]) < 0 {
			merged = append(merged, s[j])
			j++
		} else {
			merged = append(merged, s[i])
			i++
		}
	}
	merged = append(merged, s[i:mid]...)
	merged = append(merged, s[j:]...)
	copy(s, merged)
}
