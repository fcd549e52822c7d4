package main

import (
	"errors"

	"github.com/refrecon/refrecon/sources/retry"
)

// Exit statuses (SPEC 4).
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

// configError marks an error as a configuration error: exit status 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// asConfigError wraps err as a configuration error (nil stays nil).
func asConfigError(err error) error {
	if err == nil {
		return nil
	}
	return &configError{err: err}
}

// errUsage is returned after usage has been printed for a bad command line.
var errUsage = errors.New("usage")

// reportedError marks an error that is already in the log: a run's error
// is in its "run finished" record (reconcile.Run writes it). main exits with
// its status and does not print it a second time.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// errorClass is what refrecon says about a failure of one of the error
// classes the sources and sinks share (sources/retry): a name for the run's
// log record, a hint for the person reading it, and the exit status.
type errorClass struct {
	class error
	name  string // error_class in the "run finished" record
	hint  string
	exit  int
}

// errorClasses is the one place the shared error classes become messages
// and exit statuses. Every class exits 1: SPEC 4 has one status for a run
// that failed (2 is for a configuration refused before anything is read,
// and a credential is only refused when a request is made). The class
// tells the operator what to do, and the record's error_class lets an
// alert route it.
var errorClasses = []errorClass{
	{retry.ErrRefused, "refused_credential",
		"a service refused the credential: check the key or token the message names (STRIPE_SECRET_KEY, D1_API_TOKEN, the Google credentials) and its permissions", exitFailed},
	{retry.ErrNotFound, "not_found",
		"the service does not know what was asked for: check the account, database, project and dataset ids in the configuration", exitFailed},
	{retry.ErrTransient, "transient",
		"the service kept failing through every retry; nothing was published, and the next run may succeed", exitFailed},
	{retry.ErrBadInput, "bad_input",
		"the service or the data refused the request as malformed (the message says which); running again fails the same way until that is fixed", exitFailed},
}

// classify returns what errorClasses says about err's class, or nil when
// err has none of them.
func classify(err error) *errorClass {
	c := retry.ClassOf(err)
	for i := range errorClasses {
		if errorClasses[i].class == c && c != nil {
			return &errorClasses[i]
		}
	}
	return nil
}

// classifyForLog is the run's Plan.Classify: the class name and hint of a
// failed run's error, for its "run finished" record.
func classifyForLog(err error) (name, hint string) {
	if ec := classify(err); ec != nil {
		return ec.name, ec.hint
	}
	return "", ""
}
