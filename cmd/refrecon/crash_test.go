package main

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A process killed with SIGKILL at any moment of a run (reading,
// computing, writing the warehouse, publishing, pruning) leaves latest.json
// pointing at a complete snapshot whose manifest matches its files; the
// next run succeeds and removes what the killed ones left behind.
//
// The binary is built once and run on the embedded fixtures; each run has
// a new AS_OF, so each one publishes a new snapshot. The kill moments are
// seeded and spread over the length of a clean run, weighted towards its
// end, where the publication is.
func TestCrashKill9DuringRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it 20 times")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "refrecon")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	d := relNewDirs(t)
	day := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	start := func(i int) *exec.Cmd {
		env := d.env("AS_OF", day.AddDate(0, 0, i).Format(time.RFC3339), "KEEP_SNAPSHOTS", "3", "LOG_LEVEL", "error")
		cmd := exec.Command(bin, "run")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp} // TMPDIR: a killed run leaves its fixture copy there
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	// A clean run: the first snapshot, and how long a run takes.
	began := time.Now()
	if out, err := start(0).Process.Wait(); err != nil || !out.Success() {
		t.Fatalf("first run: %v %v", out, err)
	}
	length := time.Since(began)
	first := relCheckSnapshot(t, d.public)

	rng := rand.New(rand.NewPCG(20260415, 9))
	const runs = 20
	killed, served := 0, map[string]bool{first: true}
	deadline := time.Now().Add(15 * time.Second)
	for i := 1; i <= runs && time.Now().Before(deadline); i++ {
		cmd := start(i)
		// Uniform over the run, squared towards its end.
		f := rng.Float64()
		time.Sleep(time.Duration((1 - f*f) * float64(length)))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		st, err := cmd.Process.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else if !st.Success() {
			t.Fatalf("run %d failed by itself: %v", i, st)
		}
		served[relCheckSnapshot(t, d.public)] = true
	}
	if killed < 5 {
		t.Errorf("only %d of the runs were killed before they finished (a clean run takes %s)", killed, length)
	}
	t.Logf("%d runs killed, snapshots served along the way: %d; a clean run takes %s", killed, len(served), length)

	// The next run succeeds, serves its own snapshot and leaves no
	// temporary directory behind.
	cmd := start(runs + 1)
	if st, err := cmd.Process.Wait(); err != nil || !st.Success() {
		t.Fatalf("run after the kills: %v %v", st, err)
	}
	want := day.AddDate(0, 0, runs+1).Format("20060102T150405Z")
	if id := relCheckSnapshot(t, d.public); len(id) < len(want) || id[:len(want)] != want {
		t.Errorf("latest.json serves %s after a clean run at %s", id, want)
	}
	noTempLeft(t, d.public)
}
