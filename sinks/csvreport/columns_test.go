package csvreport

import (
	"strings"
	"testing"
)

// Header names every column once, in the order of the col constants, and
// every <name>_minor column is followed by its <name> column (money fills
// the two by position).
func TestColumns(t *testing.T) {
	if len(Header) != numCols {
		t.Fatalf("Header has %d names, %d columns are declared", len(Header), numCols)
	}
	seen := map[string]bool{}
	for i, h := range Header {
		if h == "" || seen[h] {
			t.Errorf("column %d: name %q empty or repeated", i, h)
		}
		seen[h] = true
		if name, ok := strings.CutSuffix(h, "_minor"); ok && (i+1 >= len(Header) || Header[i+1] != name) {
			t.Errorf("column %d %q is not followed by %q", i, h, name)
		}
	}
	for _, c := range []int{colAwardMinor, colRevenueMinor, colPendingRevenueMinor, colNetMinor,
		colAccumulatedRevenueMinor, colPoolBeforeMinor, colClaimMinor, colPoolMinor, colRemainingMinor} {
		if !strings.HasSuffix(Header[c], "_minor") {
			t.Errorf("money column %d is %q", c, Header[c])
		}
	}
	if Header[colRefcode] != "refcode" || Header[colRemaining] != "remaining" {
		t.Errorf("constants out of step with Header: %q, %q", Header[colRefcode], Header[colRemaining])
	}
}
