package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

func TestLedgerConformance(t *testing.T) {
	warehousetest.RunLedger(t, func(t *testing.T) warehouse.LedgerDriver {
		return open(t, filepath.Join(t.TempDir(), "warehouse.sqlite"))
	})
}
