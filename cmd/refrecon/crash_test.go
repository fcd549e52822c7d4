package main

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
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
	bin, tmp := buildBinary(t, "builds the binary and runs it 20 times")
	d := newDirs(t)
	day := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	start := func(i int) *exec.Cmd {
		env := relEnv(d, "AS_OF", day.AddDate(0, 0, i).Format(time.RFC3339), "KEEP_SNAPSHOTS", "3", "LOG_LEVEL", "error")
		cmd := binaryCommand(bin, tmp, env, "run")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	// Two clean runs: the first snapshot, and how long a warm run takes.
	var length time.Duration
	for i := range 2 {
		began := time.Now()
		if st, err := start(i).Process.Wait(); err != nil || !st.Success() {
			t.Fatalf("clean run %d: %v %v", i, st, err)
		}
		length = time.Since(began)
	}
	first := relCheckSnapshot(t, d.Public)

	rng := rand.New(rand.NewPCG(20260415, 9))
	const runs = 20
	killed, served := 0, map[string]bool{first: true}
	deadline := time.Now().Add(15 * time.Second)
	for i := 2; i < runs+2 && time.Now().Before(deadline); i++ {
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
		// The machine's speed varies: when a run finished before its kill,
		// aim earlier next time; when it was killed, a little later.
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
			length += length / 10
		} else if !st.Success() {
			t.Fatalf("run %d failed by itself: %v", i, st)
		} else {
			length -= length * 3 / 10
		}
		served[relCheckSnapshot(t, d.Public)] = true
	}
	if killed == 0 {
		t.Error("no run was killed before it finished: the test proved nothing")
	}
	t.Logf("%d runs killed, snapshots served along the way: %d; a run takes about %s", killed, len(served), length)

	// The next run succeeds, serves its own snapshot and leaves no
	// temporary directory behind.
	cmd := start(runs + 2)
	if st, err := cmd.Process.Wait(); err != nil || !st.Success() {
		t.Fatalf("run after the kills: %v %v", st, err)
	}
	want := day.AddDate(0, 0, runs+2).Format("20060102T150405Z")
	if id := relCheckSnapshot(t, d.Public); len(id) < len(want) || id[:len(want)] != want {
		t.Errorf("latest.json serves %s after a clean run at %s", id, want)
	}
	noTempLeft(t, d.Public)
}
