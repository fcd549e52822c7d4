package settle_test

import (
	"testing"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/cmd/internal/settle"
)

// The key is SPEC 2.8's: "refrecon-" and the first 32 hex digits of
// sha256("<cycle>\n<refcode>\n<snapshot>"). The expected value was computed
// outside Go: printf 'cycle-1\nALICE2025\n20260415T000000Z-9ae395b308dc' | sha256sum
func TestIdempotencyKey(t *testing.T) {
	got := settle.IdempotencyKey("cycle-1", "ALICE2025", "20260415T000000Z-9ae395b308dc")
	if want := "refrecon-61b06fc44f9896ca6e74d33394919a67"; got != want {
		t.Errorf("IdempotencyKey = %s, want %s", got, want)
	}
	if settle.IdempotencyKey("cycle-1", "ALICE2025", "20260416T000000Z-9ae395b308dc") == got {
		t.Error("another snapshot gives the same key")
	}
}

func TestSnapshotDate(t *testing.T) {
	d, err := settle.SnapshotDate("20260415T235959Z-9ae395b308dc")
	if err != nil || d != (civil.Date{Year: 2026, Month: 4, Day: 15}) {
		t.Errorf("SnapshotDate = %v, %v", d, err)
	}
	for _, bad := range []string{"", "latest", "20261315T000000Z-9ae395b308dc", "20260415T000000Z-9AE395B308DC", "../20260415T000000Z-9ae395b308dc"} {
		if _, err := settle.SnapshotDate(bad); err == nil {
			t.Errorf("SnapshotDate(%q): no error", bad)
		}
	}
}
