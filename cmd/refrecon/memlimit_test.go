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

	for _, tc := range []struct {
		setting, cgroup string
		want            int64
		from            string
	}{
		{"3GiB", "", 3 << 30, "MEMORY_LIMIT"},
		{"2560MiB", "", 2560 << 20, "MEMORY_LIMIT"},
		{"1000000", "", 1000000, "MEMORY_LIMIT"},
		{"off", "", 0, "MEMORY_LIMIT"},
		{"", "", defaultMemoryLimit, "default"},
		{"", "max\n", defaultMemoryLimit, "default"},
		{"", "4294967296\n", 3 << 30, "container limit"},
	} {
		os.Remove(noCgroup)
		if tc.cgroup != "" {
			if err := os.WriteFile(noCgroup, []byte(tc.cgroup), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, from, err := applyMemoryLimit(tc.setting, "")
		if err != nil || got != tc.want || from != tc.from {
			t.Errorf("applyMemoryLimit(%q) with cgroup %q = %d, %q, %v; want %d, %q", tc.setting, tc.cgroup, got, from, err, tc.want, tc.from)
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
