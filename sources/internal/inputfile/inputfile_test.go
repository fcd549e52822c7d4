package inputfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/refrecon/refrecon/sources/internal/inputfile"
	"github.com/refrecon/refrecon/sources/internal/inputfile/inputfiletest"
)

// fifo makes a named pipe nobody writes to: opening it for reading the
// ordinary way blocks forever.
func fifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Run("ReadAll", func(t *testing.T) {
		inputfiletest.Run(t, func(ctx context.Context, path string) error {
			_, err := inputfile.ReadAll(ctx, path, 0)
			return err
		})
	})
	t.Run("Check", func(t *testing.T) {
		inputfiletest.Run(t, func(_ context.Context, path string) error {
			_, err := inputfile.Check(path, 0)
			return err
		})
	})
}

func TestFollowsSymlinkToRegularFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "data")
	if err := os.WriteFile(target, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	b, err := inputfile.ReadAll(context.Background(), link, 0)
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	// A symlink to a pipe is a pipe.
	pl := filepath.Join(dir, "pipelink")
	if err := os.Symlink(fifo(t), pl); err != nil {
		t.Fatal(err)
	}
	if _, err := inputfile.ReadAll(context.Background(), pl, 0); !errors.Is(err, inputfile.ErrNotRegular) {
		t.Fatalf("ReadAll(symlink to fifo) = %v, want ErrNotRegular", err)
	}
}

func TestSizeLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 101), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := inputfile.ReadAll(context.Background(), p, 100); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Fatalf("ReadAll over the limit = %v, want ErrTooLarge", err)
	}
	if b, err := inputfile.ReadAll(context.Background(), p, 101); err != nil || len(b) != 101 {
		t.Fatalf("ReadAll at the limit = %d bytes, %v", len(b), err)
	}
}

func TestReadsHonourTheContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, []byte("some bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f, err := inputfile.Open(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cancel()
	if _, err := f.Read(make([]byte, 4)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v, want context.Canceled", err)
	}
	if _, err := inputfile.ReadAll(ctx, p, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll with a done context = %v, want context.Canceled", err)
	}
}
