package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
)

// defaultMemoryLimit is the Go heap's soft limit when neither MEMORY_LIMIT
// nor GOMEMLIMIT is set, no container limit is found and the machine's
// memory is not known; else the limit is half the machine's memory, and
// never below this.
const defaultMemoryLimit = 2560 << 20

// gcPercent is the collector's GOGC unless GOGC is set: the heap may grow
// to three times the live data between collections, not two. At 1M
// referrals the live result is ~1.4 GB and the outputs allocate many times
// that, so the default of 100 collected about twice as often: 17 s more
// user CPU of ~105 s at a peak RSS of 2.6 GB, against 4.2 GB at 200
// (docs/performance.md, change 17). A container's limit (or MEMORY_LIMIT)
// still bounds the heap: near it the collector works harder.
const gcPercent = 200

// applyGCPercent sets gcPercent unless GOGC (goGC, its value) is set, and
// returns the percent in force.
func applyGCPercent(goGC string) int {
	if goGC != "" {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(gcPercent)
	return gcPercent
}

// physicalMemory is the machine's memory in bytes (0: unknown).
var physicalMemory = func() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// cgroupMemoryMax is where a container's memory limit is read (cgroup v2).
var cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// applyMemoryLimit sets the garbage collector's soft memory limit. A soft
// limit never fails a run: near it the collector works harder (at most half
// the CPU), so a program larger than the limit is slower, not broken.
//
// The limit is setting (MEMORY_LIMIT: "2560MiB", "3GiB", bytes, or "off");
// else the runtime's own GOMEMLIMIT when goMemLimit (its value) is set; else 75% of the container's limit;
// else half the machine's memory, at least defaultMemoryLimit. It returns
// the limit in force (0: none) and where it came from.
func applyMemoryLimit(setting, goMemLimit string) (int64, string, error) {
	switch {
	case setting == "off":
		debug.SetMemoryLimit(math.MaxInt64)
		return 0, "MEMORY_LIMIT", nil
	case setting != "":
		n, err := parseBytes(setting)
		if err != nil || n <= 0 {
			return 0, "", asConfigError(fmt.Errorf("MEMORY_LIMIT %q: want a size such as 2560MiB or 3GiB, or off", setting))
		}
		debug.SetMemoryLimit(n)
		return n, "MEMORY_LIMIT", nil
	case goMemLimit != "":
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT", nil
	}
	if b, err := os.ReadFile(cgroupMemoryMax); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			debug.SetMemoryLimit(n / 4 * 3)
			return n / 4 * 3, "container limit", nil
		}
	}
	limit := max(int64(defaultMemoryLimit), physicalMemory()/2)
	debug.SetMemoryLimit(limit)
	return limit, "default", nil
}

// logMemoryLimit applies MEMORY_LIMIT and the GC percent and says which
// are in force.
func logMemoryLimit(cfg *config, log zerolog.Logger) error {
	limit, from, err := applyMemoryLimit(cfg.MemoryLimit, cfg.GoMemLimit)
	if err != nil {
		return err
	}
	log.Debug().Int64("memory_limit_bytes", limit).Str("from", from).Int("gc_percent", applyGCPercent(cfg.GoGC)).Msg("garbage collector soft memory limit")
	return nil
}

// parseBytes reads a size as GOMEMLIMIT writes it: digits with an optional
// B, KiB, MiB, GiB or TiB suffix.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n << shift, nil
}
