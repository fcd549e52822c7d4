package d1

import (
	"context"
	"fmt"

	"github.com/refrecon/refrecon/sources/referrals"
)

// The settlement's writes (SPEC 2.8, `refrecon settle apply` only): a
// Source built with a token that may edit the database (SETTLE_D1_API_TOKEN,
// never the read token of runs) sets referrals.rewarded through the same
// query endpoint, retries and redaction as the reads. The UPDATE only
// touches rows not rewarded yet, so a retried request never writes a row
// twice.

// RowStates reads the refcode and rewarded flag of the rows with these raw
// emails (at most referrals.MaxRewardedBatch); an email with no row is
// absent from the result.
func (s *Source) RowStates(ctx context.Context, emails []string) (map[string]referrals.RowState, error) {
	q, err := referrals.RowStateSQL(len(emails))
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, q, referrals.EmailArgs(emails)...)
	if err != nil {
		return nil, fmt.Errorf("D1 referrals: read rewarded: %w", err)
	}
	out := map[string]referrals.RowState{}
	for i, row := range rows {
		email, st, err := referrals.ScanRowState(row["email"], row["refcode"], row["rewarded"])
		if err != nil {
			return nil, fmt.Errorf("D1 referrals: read rewarded: row %d: %w", i, err)
		}
		out[email] = st
	}
	return out, nil
}

// MarkRewarded sets rewarded = 1 on the rows with these raw emails (at most
// referrals.MaxRewardedBatch) that are not rewarded yet, in one statement.
func (s *Source) MarkRewarded(ctx context.Context, emails []string) error {
	q, err := referrals.MarkRewardedSQL(len(emails))
	if err != nil {
		return err
	}
	if _, err := s.query(ctx, q, referrals.EmailArgs(emails)...); err != nil {
		return fmt.Errorf("D1 referrals: mark rewarded: %w", err)
	}
	return nil
}
