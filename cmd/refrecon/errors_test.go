package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sources/retry"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
)

// Every shared error class has its message and exit status, found through
// any wrapping; an error of no class has none.
func TestErrorClassesMapped(t *testing.T) {
	for _, c := range retry.Classes {
		err := &commandError{name: "run", err: fmt.Errorf("step: %w", retry.Mark(errors.New("boom"), c))}
		ec := classify(err)
		if ec == nil || ec.class != c || ec.name == "" || ec.hint == "" {
			t.Errorf("class %v: mapped to %+v", c, ec)
			continue
		}
		var out strings.Builder
		if code := exitStatus(err, &out); code != exitFailed {
			t.Errorf("class %v: exit %d, want %d", c, code, exitFailed)
		}
		if want := "refrecon run: step: boom\n  (" + ec.name + ": " + ec.hint + ")\n"; out.String() != want {
			t.Errorf("class %v: printed %q, want %q", c, out.String(), want)
		}
	}
	if ec := classify(errors.New("plain")); ec != nil {
		t.Errorf("an error of no class mapped to %+v", ec)
	}
	// A configuration error keeps its status whatever its cause's class.
	if code := exitStatus(asConfigError(retry.Mark(errors.New("x"), retry.ErrBadInput)), &strings.Builder{}); code != exitConfig {
		t.Errorf("configuration error of class bad input: exit %d, want %d", code, exitConfig)
	}
}

// A run whose Stripe key is refused exits 1, and its one "run finished"
// record names the class and says what to do; nothing is printed beside it.
func TestRunRefusedCredentialIsClassified(t *testing.T) {
	fake := stripefake.New(t, testStripeKey, stripeCase(t).NDJSON)
	d := newDirs(t)
	code, stdout, stderr := runMainEnv(t, d.env(fixtureAsOf, "STRIPE_SOURCE", "api",
		"STRIPE_SECRET_KEY", "sk_test_51WrongKeyForTheRun", "STRIPE_API_BASE", fake.URL, "STRIPE_RATE_LIMIT", "1000"), "run")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", code, exitFailed, stderr)
	}
	var finished []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line is not a log record (was the error printed?): %q", line)
		}
		if rec["event"] == "run_finished" {
			finished = append(finished, rec)
		}
	}
	if len(finished) != 1 || finished[0]["error_class"] != "refused_credential" || finished[0]["hint"] == "" ||
		!strings.Contains(fmt.Sprint(finished[0]["error"]), "refused") {
		t.Errorf("run finished records %v, want one naming the class refused_credential, with a hint", finished)
	}
	if stdout != "" || strings.Contains(stderr, "WrongKeyForTheRun") {
		t.Errorf("stdout %q; the key in stderr: %v", stdout, strings.Contains(stderr, "WrongKeyForTheRun"))
	}
}
