package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// defaultMemoryLimit is the Go heap's soft limit when neither MEMORY_LIMIT
// nor GOMEMLIMIT is set and no container limit is found: 2.5 GiB keeps a
// 1M-referral run under 3 GiB of RSS (docs/performance.md).
const defaultMemoryLimit = 2560 << 20

// cgroupMemoryMax is where a container's memory limit is read (cgroup v2).
var cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// applyMemoryLimit sets the garbage collector's soft memory limit. A soft
// limit never fails a run: near it the collector works harder (at most half
// the CPU), so a program larger than the limit is slower, not broken.
//
// The limit is setting (MEMORY_LIMIT: "2560MiB", "3GiB", bytes, or "off");
// else the runtime's own GOMEMLIMIT when goMemLimit (its value) is set; else 75% of the container's limit;
// else defaultMemoryLimit. It returns the limit in force (0: none) and where
// it came from.
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
	debug.SetMemoryLimit(defaultMemoryLimit)
	return defaultMemoryLimit, "default", nil
}

// logMemoryLimit applies MEMORY_LIMIT and says which limit is in force.
func logMemoryLimit(cfg *config, log zerolog.Logger) error {
	limit, from, err := applyMemoryLimit(cfg.MemoryLimit, cfg.GoMemLimit)
	if err != nil {
		return err
	}
	log.Debug().Int64("memory_limit_bytes", limit).Str("from", from).Msg("garbage collector soft memory limit")
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
