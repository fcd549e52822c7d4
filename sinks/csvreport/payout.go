package csvreport

import (
	"bufio"
	"fmt"
	"path/filepath"

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
		rec := newRecord(len(PayoutHeader))
		if err := rec.writeStrings(bw, PayoutHeader); err != nil {
			return err
		}
		for _, a := range awards {
			if a.EntryKind != warehouse.EntryAward {
				continue
			}
			rec.safe(0, a.Refcode)
			rec.safe(1, a.ReferrerEmail)
			rec.text(2, a.Currency)
			rec.money(3, a.Currency, a.AwardMinor)
			for i, s := range []string{a.Method, a.StripeCustomerID, a.BalanceTransactionID, a.IdempotencyKey, a.State} {
				rec.text(5+i, s)
			}
			rec.safe(10, a.Reason)
			if err := rec.write(bw); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return "", fmt.Errorf("write payout file: %w", err)
	}
	return path, nil
}
