// Package inputfiletest checks that a driver reading a file input refuses
// what is not a regular file (package inputfile) before opening it: a named
// pipe with no writer (whose ordinary open blocks forever), /dev/zero (which
// never ends) and a directory.
package inputfiletest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/refrecon/refrecon/sources/internal/inputfile"
)

// Run calls read with each kind of path that is not a regular file and
// fails unless read returns an inputfile.ErrNotRegular error naming the
// path and what it is. A driver that opened the pipe the ordinary way would
// block here until the test binary's timeout.
func Run(t *testing.T, read func(ctx context.Context, path string) error) {
	t.Helper()
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	cases := []struct{ name, path, what string }{
		{"fifo", pipe, "named pipe"},
		{"dev-zero", "/dev/zero", "character device"},
		{"directory", dir, "directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.path); err != nil {
				t.Skip(err)
			}
			err := read(t.Context(), c.path)
			if !errors.Is(err, inputfile.ErrNotRegular) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.what) {
				t.Errorf("read(%s) = %v, want a not-a-regular-file error naming the path and %q", c.path, err, c.what)
			}
		})
	}
}
