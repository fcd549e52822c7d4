package reconcile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
)

// LogFinished emits the one-line record per run that alerts match on. Run
// emits it; a command whose run fails before Run is called (its
// configuration) emits it itself.
func LogFinished(log zerolog.Logger, rep Report, err error) {
	ev := log.Info()
	if err != nil {
		ev = log.Error().Err(err)
	}
	if rep.ErrorClass != "" {
		ev = ev.Str("error_class", rep.ErrorClass).Str("hint", rep.ErrorHint)
	}
	c := rep.Counts
	ev.Str("event", "run_finished").Str("snapshot_id", rep.SnapshotID).Str("status", rep.Status).
		Float64("seconds", rep.Seconds).
		Dict("counts", zerolog.Dict().Int64("users", c.Users).Int64("referrals", c.Referrals).
			Int64("customers", c.Customers).Int64("subscriptions", c.Subscriptions).
			Int64("invoices", c.Invoices).Int64("refunds", c.Refunds).
			Int64("disputes", c.Disputes).Int64("credit_notes", c.CreditNotes)).
		Msg("run finished")
}

// NewRunID returns a random id for one run's log records.
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// peakRSS is the process's peak resident set size so far in bytes, from
// the kernel's own accounting (VmHWM in /proc/self/status); 0 where that is
// not available. The stage logs carry it for the benchmarks.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// writeHeapProfile writes a pprof heap profile into path when the run's
// memory is at its largest: after the private outputs, with the inputs'
// subscriptions, the result and the warehouse rows all written. "" does
// nothing.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	// A new file: whatever is at path is unlinked (a symlink's target is
	// never truncated), then created with O_EXCL|O_NOFOLLOW.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("heap profile: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC() // up-to-date statistics
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}
