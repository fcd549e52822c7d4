package snapshots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockFile is the name of the lock file inside PUBLIC_DIR. It is never
// removed: removing a file others may have open would let two processes
// hold "the" lock on two different inodes.
const LockFile = ".refrecon.lock"

// ErrLocked is matched (errors.Is) by the error Lock returns when another
// process holds the lock and the caller chose not to wait.
var ErrLocked = errors.New("publication directory is locked")

// pollInterval is how often LockContext retries while waiting.
var pollInterval = 250 * time.Millisecond

// Holder describes the process holding the lock, as it wrote itself into
// the lock file.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
	Unknown bool      `json:"-"` // the file did not say (holder still writing, or not refrecon)
}

// LockedError is the error for a lock held by someone else. It matches
// ErrLocked.
type LockedError struct {
	Dir    string
	Holder Holder
}

func (e *LockedError) Error() string {
	if e.Holder.Unknown {
		return fmt.Sprintf("PUBLIC_DIR %s is locked by another process (holder unknown)", e.Dir)
	}
	return fmt.Sprintf("PUBLIC_DIR %s is locked by pid %d on host %s (%s, since %s)",
		e.Dir, e.Holder.PID, e.Holder.Host, e.Holder.Command, e.Holder.Since.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock takes the exclusive publication lock on dir (PUBLIC_DIR), creating
// dir if needed. With wait=false a lock held elsewhere is an error matching
// ErrLocked (a *LockedError naming the holder); with wait=true Lock blocks
// until the lock is free. unlock releases it; the kernel also releases it
// if the process dies.
func Lock(dir string, wait bool) (unlock func() error, err error) {
	return LockContext(context.Background(), dir, wait)
}

// LockContext is Lock with a wait that ends, with ctx's error, when ctx is
// done.
func LockContext(ctx context.Context, dir string, wait bool) (unlock func() error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	for {
		err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: flock: %w", dir, err)
		}
		if !wait {
			h := readHolder(f)
			f.Close()
			return nil, &LockedError{Dir: dir, Holder: h}
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: waiting: %w", dir, ctx.Err())
		case <-t.C:
		}
	}
	if err := writeHolder(f); err != nil {
		f.Close() // releases the lock
		return nil, fmt.Errorf("lock %s: recording holder: %w", dir, err)
	}
	var done bool
	return func() error {
		if done {
			return nil
		}
		done = true
		// Clear the holder record before letting go, so a later reader never
		// sees a released lock's holder as current.
		terr := f.Truncate(0)
		uerr := flock(f, syscall.LOCK_UN)
		cerr := f.Close()
		if err := errors.Join(terr, uerr, cerr); err != nil {
			return fmt.Errorf("unlock %s: %w", dir, err)
		}
		return nil
	}, nil
}

// flock retries EINTR.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func writeHolder(f *os.File) error {
	host, _ := os.Hostname()
	h := Holder{PID: os.Getpid(), Host: host, Command: commandName(os.Args), Since: time.Now().UTC().Truncate(time.Second)}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return err
	}
	return f.Sync()
}

func readHolder(f *os.File) Holder {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	var h Holder
	if err != nil || json.Unmarshal(b, &h) != nil || h.PID == 0 {
		return Holder{Unknown: true}
	}
	return h
}

// commandName is the program's base name and its sub-command words, up to
// the first flag ("refrecon run"): never flag values, which could be
// anything.
func commandName(args []string) string {
	if len(args) == 0 {
		return "unknown"
	}
	words := []string{filepath.Base(args[0])}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") || len(words) == 3 {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}
