// Package inputfile opens the files refrecon reads its inputs from (a cycle
// set file:// URL, a sqlite: referrals file, a d1dump: dump, a Stripe file:
// export) so that no input can hang or flood a run.
//
// Every path is checked before it is opened for reading: it must name a
// regular file (a symlink to one is followed), so a named pipe with no
// writer, a character device such as /dev/zero or a directory is refused
// with an error that says what the path is, instead of blocking in open(2)
// or growing without end. The file is then opened with O_NONBLOCK, so a path
// swapped for a pipe between the check and the open still cannot block, and
// checked again on the open descriptor. A size limit, where the format
// allows one, is checked against the file's size before anything is read,
// and reads stop at the size the file had when it was opened.
//
// Reads through File honour the caller's context: every Read fails once the
// context is done (a run's RUN_TIMEOUT or SIGTERM).
package inputfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Check reports whether path names a regular file (after symlinks) of at
// most maxSize bytes (0 = no limit), without opening it. It is for inputs
// another library opens by name (SQLite); Open is for the rest.
func Check(path string, maxSize int64) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkInfo(path, fi, maxSize); err != nil {
		return nil, err
	}
	return fi, nil
}

// checkInfo's errors name the path, as os's errors do.
func checkInfo(path string, fi fs.FileInfo, maxSize int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w: it is %s", path, ErrNotRegular, describe(fi.Mode()))
	}
	if maxSize > 0 && fi.Size() > maxSize {
		return fmt.Errorf("%s: %w: %d bytes, the limit is %d", path, ErrTooLarge, fi.Size(), maxSize)
	}
	return nil
}

// ErrNotRegular is the class of a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is the class of a file over its format's size limit.
var ErrTooLarge = errors.New("file too large")

// describe names what a non-regular file is, for the error.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "not a regular file (mode " + m.String() + ")"
	}
}

// File is an input file opened by Open. Reads honour the context given to
// Open and stop at the size the file had when it was opened.
type File struct {
	f    *os.File
	ctx  context.Context
	r    io.Reader // f limited to Size bytes
	Size int64     // the file's size when opened
}

// Open checks path (Check), opens it for reading without blocking and
// checks the open file again. maxSize 0 means no limit.
func Open(ctx context.Context, path string, maxSize int64) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := Check(path, maxSize); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkInfo(path, fi, maxSize)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, ctx: ctx, r: io.LimitReader(f, fi.Size()), Size: fi.Size()}, nil
}

// Read reads from the file; it fails with the context's error once the
// context is done.
func (f *File) Read(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	return f.r.Read(p)
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// ReadAll reads the whole file at path (Open, then every byte up to its
// size when opened), in chunks, so that a done context stops it.
func ReadAll(ctx context.Context, path string, maxSize int64) ([]byte, error) {
	f, err := Open(ctx, path, maxSize)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, f.Size)
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:min(len(b), n+readChunk)])
		n += m
		if errors.Is(err, io.EOF) {
			break // the file shrank since it was opened
		}
		if err != nil {
			return nil, err
		}
	}
	return b[:n], nil
}

// readChunk is how much ReadAll reads between checks of the context.
const readChunk = 4 << 20
