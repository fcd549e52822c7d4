package cpumeter

import (
	"runtime"
	"testing"
)

// A meter counts the CPU its timed part spends: a busy loop measures more
// than an empty part.
func TestMeterCountsTheTimedPart(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no getrusage")
	}
	var busy, empty Meter
	empty.Start()
	empty.Stop()
	busy.Start()
	x := 0
	for i := range 100_000_000 {
		x ^= i * i
	}
	busy.Stop()
	if busy.total <= empty.total || busy.total <= 0 {
		t.Fatalf("a busy loop measured %v of CPU, an empty part %v (x=%d)", busy.total, empty.total, x)
	}
}
