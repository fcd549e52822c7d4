package localdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/refrecon/refrecon/sinks/public"
)

// LockFile is the name of the lock file inside PUBLIC_DIR. It is never
// removed: removing a file others may have open would let two processes
// hold "the" lock on two different inodes.
const LockFile = ".refrecon.lock"

// pollInterval is how often Lock retries while waiting.
var pollInterval = 250 * time.Millisecond

// Lock takes the exclusive publication lock on the directory: flock(2) on
// PUBLIC_DIR/.refrecon.lock, creating the directory if needed. The kernel
// releases it when the holder's process ends, however it ends, so there
// are no stale locks to clean up by hand and req.TTL is not needed. The
// file also records who holds the lock (run id, pid, host, command, start
// time) so that a refused run can say whom it waited for. flock is
// advisory, and on network or FUSE filesystems (NFS mounted with nolock,
// object-storage mounts) it may exclude only processes on the same
// machine: where PUBLIC_DIR lives on such a mount, let the orchestrator
// forbid overlapping runs as well (deploy/README.md).
func (d *Dir) Lock(ctx context.Context, req public.LockRequest) (unlock func() error, err error) {
	dir := d.root
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	f, err := openLockFile(filepath.Join(dir, LockFile))
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
		if !req.Wait {
			h := readHolder(f)
			f.Close()
			return nil, &public.LockedError{Store: dir, Holder: h}
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
	if err := writeHolder(f, req.RunID); err != nil {
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

// openLockFile opens (creating it if needed) the lock file, which is then
// written and truncated: never through a symlink (O_NOFOLLOW), and only a
// regular file with one link, so a lock file that is a symlink or a hard
// link to a file elsewhere cannot get that file truncated. Such a lock file
// is an error asking for it to be removed.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o644)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symlink: refusing to lock through it (remove it; refrecon makes its own)", path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file: refusing to lock through it (remove it; refrecon makes its own)", path)
	case st != nil && st.Nlink != 1:
		err = fmt.Errorf("%s has %d hard links: refusing to write a file shared with another path (remove it; refrecon makes its own)", path, st.Nlink)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
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

func writeHolder(f *os.File, runID string) error {
	h := public.NewHolder(runID, 0)
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

func readHolder(f *os.File) public.Holder {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	if err != nil {
		return public.Holder{Unknown: true}
	}
	return public.ParseHolder(b)
}
