// Package cpumeter measures a benchmark's CPU time: the process's user and
// system time between Start and Stop (every goroutine, and the kernel's
// work for it, such as file creation). Other processes on a shared machine
// do not count in it, as they do in ns/op (docs/performance.md, Measuring).
package cpumeter

import (
	"testing"
	"time"
)

// Meter adds up the process's CPU time over the timed parts of a
// benchmark.
type Meter struct{ total, at time.Duration }

// Start begins a timed part.
func (m *Meter) Start() { m.at = Process() }

// Stop ends it.
func (m *Meter) Stop() { m.total += Process() - m.at }

// Report reports the CPU time per iteration as cpu-ns/op.
func (m *Meter) Report(b *testing.B) {
	b.ReportMetric(float64(m.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
