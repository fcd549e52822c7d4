package bigquery_test

import (
	"testing"

	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

func TestLedgerConformance(t *testing.T) {
	warehousetest.RunLedger(t, func(t *testing.T) warehouse.LedgerDriver {
		_, w := open(t, bigquery.Config{})
		return w
	})
}

func TestLedgerConformanceWithSmallPages(t *testing.T) {
	warehousetest.RunLedger(t, func(t *testing.T) warehouse.LedgerDriver {
		fake, w := open(t, bigquery.Config{})
		fake.SetPageSize(1)
		return w
	})
}
