package csvreport

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/internal/privatefile"
	"github.com/refrecon/refrecon/sinks/warehouse"
)

// PayoutHeader is the header of a settlement's payout file (SPEC 2.8).
var PayoutHeader = []string{
	"refcode", "referrer_email", "currency", "award_minor", "award", "method",
	"stripe_customer_id", "balance_transaction_id", "idempotency_key", "state", "reason",
}

// PayoutName is the payout file of cycle settled from snapshot, relative to
// PRIVATE_DIR.
func PayoutName(cycle, snapshot string) string {
	return filepath.Join("settlements", cycle+"-"+snapshot+".csv")
}

// WritePayout writes PRIVATE_DIR/settlements/<cycle>-<snapshot>.csv: one
// line per award entry of the settlement ledger (in the order given), with
// its current state, written whole or not at all (a temporary file renamed
// over the previous one). It returns the file's path.
func WritePayout(privateDir, cycle, snapshot string, awards []warehouse.Settlement) (string, error) {
	name := PayoutName(cycle, snapshot)
	dir, base := filepath.Split(filepath.Join(privateDir, name))
	path, err := privatefile.Write(filepath.Clean(dir), base, func(f *privatefile.File) error {
		bw := bufio.NewWriter(f)
		cw := csv.NewWriter(bw)
		if err := cw.Write(PayoutHeader); err != nil {
			return err
		}
		for _, a := range awards {
			if a.EntryKind != warehouse.EntryAward {
				continue
			}
			rec := []string{
				safeText(a.Refcode), safeText(a.ReferrerEmail), a.Currency,
				strconv.FormatInt(a.AwardMinor, 10), pipeline.FormatDecimal(a.Currency, a.AwardMinor), a.Method,
				a.StripeCustomerID, a.BalanceTransactionID, a.IdempotencyKey, a.State, safeText(a.Reason),
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return "", fmt.Errorf("write payout file: %w", err)
	}
	return path, nil
}
