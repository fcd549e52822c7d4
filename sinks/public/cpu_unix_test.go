//go:build unix

package public_test

import (
	"syscall"
	"time"
)

// processCPU is the process's user and system CPU time so far (every
// goroutine and the kernel's work for it: file creation is system time).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
