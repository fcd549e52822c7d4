package localdir

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sinks/public"
)

func TestLockExcludesSecondOpenFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "public") // created by Lock
	unlock, err := Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
	var le *public.LockedError
	if !errors.Is(err, public.ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second Lock: got %v, want a LockedError", err)
	}
	host, _ := os.Hostname()
	if le.Holder.RunID != "r1" || le.Holder.PID != os.Getpid() || le.Holder.Host != host || le.Holder.Command != public.NewHolder("", 0).Command || le.Holder.Since.IsZero() {
		t.Errorf("holder = %+v, want this process", le.Holder)
	}
	want := fmt.Sprintf("PUBLIC_DIR %s is locked by pid %d on host %s (%s, since ", dir, os.Getpid(), host, public.NewHolder("", 0).Command)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\nwant prefix %q", err, want)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, LockFile)); len(b) != 0 {
		t.Errorf("lock file after unlock = %q, want empty", b)
	}
	if err := unlock(); err != nil { // idempotent
		t.Fatal(err)
	}
	unlock2, err := Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}

func TestLockWaitCancelledThenAcquired(t *testing.T) {
	defer func(d time.Duration) { pollInterval = d }(pollInterval)
	pollInterval = time.Millisecond
	dir := t.TempDir()
	unlock, err := Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	// A waiter whose context ends while the lock is held gets the context's
	// error, not the lock.
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		u, err := Open(dir).Lock(ctx, public.LockRequest{Wait: true})
		if u != nil {
			u()
		}
		res <- err
	}()
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: got %v, want context.Canceled", err)
	}
	// A waiter gets the lock once it is released.
	go func() {
		u, err := Open(dir).Lock(context.Background(), public.LockRequest{Wait: true})
		if err == nil {
			err = u()
		}
		res <- err
	}()
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatalf("waiting Lock: %v", err)
	}
}

func TestLockHolderUnknown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockFile)
	if err := os.WriteFile(path, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
	var le *public.LockedError
	if !errors.As(err, &le) || !le.Holder.Unknown || !strings.Contains(err.Error(), "holder unknown") {
		t.Fatalf("got %v, want a LockedError with an unknown holder", err)
	}
}

func TestLockNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file).Lock(context.Background(), public.LockRequest{RunID: "r1"}); err == nil || errors.Is(err, public.ErrLocked) {
		t.Fatalf("Lock on a file: got %v, want an error that is not public.ErrLocked", err)
	}
}

// helperEnv makes the test binary, re-executed, hold the lock on the named
// directory until it is killed.
const helperEnv = "SNAPSHOTS_TEST_HOLD_LOCK"

// heldLock keeps the helper's lock alive until the process is killed.
var heldLock func() error

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		unlock, err := Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		// Keep the lock's file reachable: a collected *os.File is closed by
		// its finalizer, which would release the lock.
		heldLock = unlock
		fmt.Println("locked", os.Getpid())
		// Until killed; the kernel then releases the lock. Not select{}: with
		// every goroutine blocked and no timer, the runtime may end the
		// process as deadlocked (and release the lock) before the test kills it.
		for {
			time.Sleep(time.Hour)
		}
	}
	os.Exit(m.Run())
}

func TestLockAcrossProcesses(t *testing.T) {
	defer func(d time.Duration) { pollInterval = d }(pollInterval)
	pollInterval = time.Millisecond
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked "+strconv.Itoa(cmd.Process.Pid)+"\n" {
		t.Fatalf("helper said %q (%v)", line, err)
	}

	_, err = Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
	var le *public.LockedError
	if !errors.As(err, &le) || le.Holder.PID != cmd.Process.Pid {
		t.Fatalf("Lock while the helper holds it: got %v, want held by pid %d", err, cmd.Process.Pid)
	}

	// SIGKILL gives the helper no chance to unlock: the kernel must.
	res := make(chan error, 1)
	go func() {
		u, err := Open(dir).Lock(context.Background(), public.LockRequest{Wait: true})
		if err == nil {
			err = u()
		}
		res <- err
	}()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if err := <-res; err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
}

func TestLockNeverWritesThroughALink(t *testing.T) {
	const precious = "do not truncate me\n"
	for name, plant := range map[string]func(target, lock string) error{
		"symlink":          os.Symlink,
		"dangling symlink": func(target, lock string) error { return os.Symlink(target+".missing", lock) },
		"hard link":        os.Link,
		"named pipe":       func(_, lock string) error { return syscall.Mkfifo(lock, 0o600) },
		"directory":        func(_, lock string) error { return os.Mkdir(lock, 0o755) },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			target := filepath.Join(root, "elsewhere")
			if err := os.WriteFile(target, []byte(precious), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "public")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			lock := filepath.Join(dir, LockFile)
			if err := plant(target, lock); err != nil {
				t.Fatal(err)
			}
			unlock, err := Open(dir).Lock(context.Background(), public.LockRequest{RunID: "r1"})
			if err == nil {
				unlock()
				t.Fatal("Lock succeeded through a planted lock file")
			}
			if !strings.Contains(err.Error(), lock) {
				t.Errorf("error %q does not name %s", err, lock)
			}
			if b, _ := os.ReadFile(target); string(b) != precious {
				t.Errorf("the target now holds %q", b)
			}
			if _, err := os.Stat(target + ".missing"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Lock created the dangling symlink's target")
			}
		})
	}
}
