package referrals

import (
	"fmt"
	"strings"
)

// The one write refrecon ever makes to the referrals service's database
// (SPEC 2.8, `refrecon settle apply` only): setting referrals.rewarded on
// rows it has paid the reward of. Every driver that can write (sqlite, d1)
// runs exactly these statements, parameterised, one batch at a time.

// MaxRewardedBatch is the most emails one statement names.
const MaxRewardedBatch = 100

// RowState is a referrals row's current refcode and rewarded flag, as the
// settlement reads them back before and after it writes.
type RowState struct {
	Refcode  string // "" when NULL
	Rewarded bool   // false when NULL
}

// MarkRewardedSQL is the UPDATE that sets rewarded = 1 on the rows whose
// raw email is one of n parameters, and only on rows not rewarded yet, so
// running it twice never writes a row twice.
func MarkRewardedSQL(n int) (string, error) {
	in, err := placeholders(n)
	if err != nil {
		return "", err
	}
	return "UPDATE referrals SET rewarded = 1 WHERE email IN (" + in + ") AND COALESCE(rewarded, 0) = 0", nil
}

// RowStateSQL is the SELECT that reads back the email, refcode and
// rewarded flag of the rows whose raw email is one of n parameters.
func RowStateSQL(n int) (string, error) {
	in, err := placeholders(n)
	if err != nil {
		return "", err
	}
	return "SELECT email, refcode, COALESCE(rewarded, 0) AS rewarded FROM referrals WHERE email IN (" + in + ")", nil
}

func placeholders(n int) (string, error) {
	if n < 1 || n > MaxRewardedBatch {
		return "", fmt.Errorf("referrals: a batch of %d emails, want 1..%d", n, MaxRewardedBatch)
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ","), nil
}

// ScanRowState converts one result row of RowStateSQL (values as SQLite
// storage classes) by the value rules every driver shares.
func ScanRowState(email, refcode, rewarded any) (string, RowState, error) {
	e, r := TextValue(email), TextValue(refcode)
	b, err := BoolValue(rewarded)
	if err != nil {
		return "", RowState{}, fmt.Errorf("referrals.rewarded of %q: %w", e, err)
	}
	return e, RowState{Refcode: r, Rewarded: b}, nil
}

// EmailArgs is emails as the parameters of MarkRewardedSQL and RowStateSQL.
func EmailArgs(emails []string) []any {
	out := make([]any, len(emails))
	for i, e := range emails {
		out[i] = e
	}
	return out
}
