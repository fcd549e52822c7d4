package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // restore
	noCgroup := filepath.Join(t.TempDir(), "memory.max")
	defer func(old string) { cgroupMemoryMax = old }(cgroupMemoryMax)
	cgroupMemoryMax = noCgroup
	defer func(old func() int64) { physicalMemory = old }(physicalMemory)
	physical := int64(0)
	physicalMemory = func() int64 { return physical }

	for _, tc := range []struct {
		setting, cgroup string
		physical        int64
		want            int64
		from            string
	}{
		{"3GiB", "", 24 << 30, 3 << 30, "MEMORY_LIMIT"},
		{"2560MiB", "", 0, 2560 << 20, "MEMORY_LIMIT"},
		{"1000000", "", 0, 1000000, "MEMORY_LIMIT"},
		{"off", "", 0, 0, "MEMORY_LIMIT"},
		{"", "", 0, defaultMemoryLimit, "default"},
		{"", "", 4 << 30, defaultMemoryLimit, "default"},
		{"", "", 24 << 30, 12 << 30, "default"},
		{"", "max\n", 24 << 30, 12 << 30, "default"},
		{"", "4294967296\n", 24 << 30, 3 << 30, "container limit"},
	} {
		physical = tc.physical
		os.Remove(noCgroup)
		if tc.cgroup != "" {
			if err := os.WriteFile(noCgroup, []byte(tc.cgroup), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, from, err := applyMemoryLimit(tc.setting, "")
		if err != nil || got != tc.want || from != tc.from {
			t.Errorf("applyMemoryLimit(%q) with cgroup %q, %d bytes of memory = %d, %q, %v; want %d, %q", tc.setting, tc.cgroup, tc.physical, got, from, err, tc.want, tc.from)
		}
		inForce := debug.SetMemoryLimit(-1)
		if tc.want == 0 && inForce != math.MaxInt64 || tc.want != 0 && inForce != tc.want {
			t.Errorf("applyMemoryLimit(%q): runtime limit %d, want %d", tc.setting, inForce, tc.want)
		}
	}
	for _, bad := range []string{"lots", "-1GiB", "0", "1.5GiB", "99999999999TiB"} {
		if _, _, err := applyMemoryLimit(bad, ""); err == nil {
			t.Errorf("applyMemoryLimit(%q): no error", bad)
		}
	}
}

func TestApplyGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // restore
	if got := applyGCPercent(""); got != gcPercent || debug.SetGCPercent(gcPercent) != gcPercent {
		t.Errorf("GOGC unset: %d in force, want %d", got, gcPercent)
	}
	debug.SetGCPercent(50) // as the runtime does for GOGC=50
	if got := applyGCPercent("50"); got != 50 || debug.SetGCPercent(50) != 50 {
		t.Errorf("GOGC=50: %d in force, want the runtime's 50", got)
	}
}
