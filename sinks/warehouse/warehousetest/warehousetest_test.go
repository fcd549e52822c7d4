package warehousetest_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

// memWarehouse is a reference driver: snapshots kept as JSON per date.
type memWarehouse struct {
	mu   sync.Mutex
	days map[civil.Date][]byte
}

func (m *memWarehouse) WriteSnapshot(ctx context.Context, s warehouse.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := json.Marshal(warehousetest.Collect(s))
	if err != nil {
		return err
	}
	m.days[s.Date] = b
	return nil
}

func (m *memWarehouse) ReadDay(ctx context.Context, date civil.Date) (warehousetest.Day, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := warehousetest.Day{Date: date}
	if b, ok := m.days[date]; ok {
		if err := json.Unmarshal(b, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (m *memWarehouse) Close() error { return nil }

func TestMemoryDriverConforms(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T) warehousetest.Driver {
		return &memWarehouse{days: map[civil.Date][]byte{}}
	})
}

func TestDiffCatchesDifferences(t *testing.T) {
	d := civil.Date{Year: 2026, Month: 4, Day: 15}
	want := warehousetest.Sample(d, "20260415T000000Z-aaaaaaaaaaaa")

	// Equal under the comparison rules: reordered rows, other zones,
	// sub-microsecond noise, empty vs nil repeated fields.
	same := warehousetest.Sample(d, "20260415T000000Z-aaaaaaaaaaaa")
	same.LeaderboardEntries[0], same.LeaderboardEntries[2] = same.LeaderboardEntries[2], same.LeaderboardEntries[0]
	same.Runs[0].AsOf = same.Runs[0].AsOf.UTC().Add(300 * time.Nanosecond)
	same.ReferralDecisions[1].Conversions = []warehouse.Conversion{}
	same.ReferralDecisions[3].Conversions = nil
	if diff := warehousetest.Diff(want, same); diff != "" {
		t.Errorf("Diff of equivalent snapshots:\n%s", diff)
	}

	mutations := map[string]func(s *warehousetest.Day){
		"duplicate row":   func(s *warehousetest.Day) { s.Runs = append(s.Runs, s.Runs[0]) },
		"missing row":     func(s *warehousetest.Day) { s.PaymentAccounting = s.PaymentAccounting[1:] },
		"second lost":     func(s *warehousetest.Day) { s.Runs[0].AsOf = s.Runs[0].AsOf.Add(time.Second) },
		"microsecond":     func(s *warehousetest.Day) { s.Runs[0].AsOf = s.Runs[0].AsOf.Add(time.Microsecond) },
		"int64 overflow":  func(s *warehousetest.Day) { s.CycleSummaries[1].AwardPool-- },
		"unicode mangled": func(s *warehousetest.Day) { s.LeaderboardEntries[1].Refcode = "Unicode" },
		"repeated order": func(s *warehousetest.Day) {
			p := s.Subscriptions[0].PriceIDs
			p[0], p[1] = p[1], p[0]
		},
		"nested field": func(s *warehousetest.Day) { s.ReferralDecisions[0].Conversions[1].Pending = false },
		"float":        func(s *warehousetest.Day) { s.LeaderboardEntries[1].FinalScoreBoost = 0.6666667 },
		"date":         func(s *warehousetest.Day) { s.Date = s.Date.AddDays(1) },
	}
	for name, mutate := range mutations {
		got := warehousetest.Sample(d, "20260415T000000Z-aaaaaaaaaaaa")
		mutate(&got)
		if diff := warehousetest.Diff(want, got); diff == "" {
			t.Errorf("%s: Diff found no difference", name)
		}
	}
}

func TestSampleIsValidAndPopulated(t *testing.T) {
	d := civil.Date{Year: 2026, Month: 4, Day: 15}
	s := warehousetest.Sample(d, "20260415T000000Z-aaaaaaaaaaaa")
	if err := s.Snapshot().Validate(); err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) == 0 || len(s.CycleSummaries) == 0 || len(s.LeaderboardEntries) == 0 ||
		len(s.ReferralDecisions) == 0 || len(s.PaymentAccounting) == 0 || len(s.Subscriptions) == 0 {
		t.Errorf("Sample leaves a table empty")
	}
	other := warehousetest.Sample(d, "20260415T060000Z-bbbbbbbbbbbb")
	if warehousetest.Diff(s, other) == "" {
		t.Errorf("Samples with different snapshot ids are equal")
	}
}

// Stream yields the snapshot's rows in one reused variable: a reader that
// copies each row gets the rows back; one that keeps the pointers does not.
func TestStreamReusesRows(t *testing.T) {
	d := civil.Date{Year: 2026, Month: 4, Day: 15}
	want := warehousetest.Sample(d, "20260415T000000Z-aaaaaaaaaaaa")
	s := warehousetest.Stream(want)
	if diff := warehousetest.Diff(want, warehousetest.Collect(s)); diff != "" {
		t.Errorf("Collect(Stream(s)) differs from s:\n%s", diff)
	}
	var kept []*warehouse.ReferralDecision
	for row, err := range s.Rows(warehouse.TableReferralDecisions) {
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, row.(*warehouse.ReferralDecision))
	}
	if len(kept) < 2 || kept[0] != kept[1] {
		t.Errorf("Stream does not reuse its row variable")
	}
}
