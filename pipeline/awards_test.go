package pipeline

import (
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestPieSplit(t *testing.T) {
	type share = pieShare
	tests := []struct {
		name   string
		pool   int64
		n      int64
		scores []int64
		disq   []bool
		want   []share
	}{
		{
			// weights 5×4, 3×3, 2×2 = 20, 9, 4; W = 33. 1000×20/33 = 606 r 2,
			// 1000×9/33 = 272 r 24, 1000×4/33 = 121 r 7; the unit left goes to
			// the largest remainder (second).
			name: "three slots", pool: 1000, n: 3, scores: []int64{5, 3, 2},
			want: []share{{true, 1, 1, 606}, {true, 1, 2, 273}, {true, 0, 1, 121}},
		},
		{
			name: "zero pool", pool: 0, n: 3, scores: []int64{5, 3, 2},
			want: []share{{true, 1, 1, 0}, {true, 1, 2, 0}, {true, 0, 1, 0}},
		},
		{
			name: "one slot", pool: 1000, n: 1, scores: []int64{5, 3},
			want: []share{{true, 1, 1, 1000}, {false, 0, 1, 0}},
		},
		{
			name: "no slots", pool: 1000, n: 0, scores: []int64{5, 3},
			want: []share{{false, 0, 1, 0}, {false, 0, 1, 0}},
		},
		{
			name: "nobody ranked", pool: 1000, n: 3, scores: nil, want: []share{},
		},
		{
			// Disqualified second: A is q1 (weight 5×2 = 10), C q2 (3×1 = 3),
			// W = 13: 1000/13 = 76 r 12, 300/13 = 23 r 1, left 1 to A.
			name: "disqualified in the middle", pool: 100, n: 2, scores: []int64{5, 4, 3}, disq: []bool{false, true, false},
			want: []share{{true, 1, 1, 77}, {false, 0, 1, 0}, {true, 0, 1, 23}},
		},
		{
			// weights 1×2 and 2×1: equal remainders 2 and 2 of W = 4; the
			// unit left goes to the better rank.
			name: "remainder tie to the better rank", pool: 3, n: 2, scores: []int64{1, 2},
			want: []share{{true, 1, 1, 2}, {true, 0, 1, 1}},
		},
		{
			name: "zero scores do not qualify", pool: 10, n: 3, scores: []int64{4, 0, 0},
			want: []share{{true, 1, 1, 10}, {false, 0, 1, 0}, {false, 0, 1, 0}},
		},
		{
			name: "only zero scores", pool: 10, n: 3, scores: []int64{0, 0},
			want: []share{{false, 0, 1, 0}, {false, 0, 1, 0}},
		},
		{
			// N = 5, q = 1..2: boosts 4/4 = 1/1 and 3/4; weights 1×8, 1×7.
			// 7×8/15 = 3 r 11, 7×7/15 = 3 r 4: the unit left to the first.
			name: "fewer referrers than slots", pool: 7, n: 5, scores: []int64{1, 1},
			want: []share{{true, 1, 1, 4}, {true, 3, 4, 3}},
		},
		{
			name: "extreme values are exact", pool: math.MaxInt64, n: math.MaxInt64, scores: []int64{math.MaxInt64, math.MaxInt64},
			// weights s(2N−2) and s(2N−3): awards MaxInt64 × w/W, remainders decide.
			want: func() []share {
				s, n := big.NewInt(math.MaxInt64), big.NewInt(math.MaxInt64)
				w1 := new(big.Int).Mul(s, new(big.Int).Sub(new(big.Int).Lsh(n, 1), big.NewInt(2)))
				w2 := new(big.Int).Mul(s, new(big.Int).Sub(new(big.Int).Lsh(n, 1), big.NewInt(3)))
				tot := new(big.Int).Add(w1, w2)
				p := big.NewInt(math.MaxInt64)
				a1, r1 := new(big.Int).QuoRem(new(big.Int).Mul(p, w1), tot, new(big.Int))
				a2, r2 := new(big.Int).QuoRem(new(big.Int).Mul(p, w2), tot, new(big.Int))
				left := math.MaxInt64 - a1.Int64() - a2.Int64()
				x1, x2 := a1.Int64(), a2.Int64()
				if left == 1 {
					if r1.Cmp(r2) >= 0 {
						x1++
					} else {
						x2++
					}
				}
				return []share{{true, 1, 1, x1}, {true, (math.MaxInt64 - 2), (math.MaxInt64 - 1), x2}}
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disq := tt.disq
			if disq == nil {
				disq = make([]bool, len(tt.scores))
			}
			got := pieSplit(tt.pool, tt.n, tt.scores, disq)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPieSplitProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for c := 0; c < 500; c++ {
		k := rng.IntN(30)
		scores := make([]int64, k)
		disq := make([]bool, k)
		for i := range scores {
			switch rng.IntN(4) {
			case 0:
				scores[i] = 0
			case 1:
				scores[i] = rng.Int64()
			default:
				scores[i] = rng.Int64N(50) + 1
			}
			disq[i] = rng.IntN(5) == 0
		}
		// Scores in rank order.
		for i := 1; i < k; i++ {
			for j := i; j > 0 && scores[j] > scores[j-1]; j-- {
				scores[j], scores[j-1] = scores[j-1], scores[j]
			}
		}
		pool := rng.Int64N(1_000_000)
		if rng.IntN(4) == 0 {
			pool = rng.Int64()
		}
		n := rng.Int64N(12)
		got := pieSplit(pool, n, scores, disq)
		var sum, qualified int64
		anyWeight := false
		for i, s := range got {
			if s.award < 0 || (!s.qualified && s.award != 0) {
				t.Fatalf("case %d: share %d = %+v", c, i, s)
			}
			if s.qualified {
				qualified++
				anyWeight = true
				if disq[i] || scores[i] <= 0 {
					t.Fatalf("case %d: disqualified or zero score %d qualified", c, i)
				}
			}
			sum += s.award
		}
		if qualified > n {
			t.Fatalf("case %d: %d qualified with %d slots", c, qualified, n)
		}
		if anyWeight && sum != pool {
			t.Fatalf("case %d: awards sum %d, pool %d (scores %v, n %d)", c, sum, pool, scores, n)
		}
		if !anyWeight && sum != 0 {
			t.Fatalf("case %d: awards %d without weights", c, sum)
		}
		// Monotone: among qualified, a higher weight never gets less.
		var prev *pieShare
		for i := range got {
			if !got[i].qualified {
				continue
			}
			if prev != nil && n > 1 && prev.award+1 < got[i].award {
				t.Fatalf("case %d: later qualified got %d > %d", c, got[i].award, prev.award)
			}
			prev = &got[i]
		}
	}
}

func TestRevShare(t *testing.T) {
	// Slots: 0 A, 1 B, 2 C (disqualified).
	events := []shareEvent{{0, 300}, {1, 600}, {0, 300}, {1, 100}, {2, 1000}, {1, 55}}
	res, err := revShare(1000, 500, 1000, events, []bool{false, false, true})
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []shareLine{
		{1000, 0, 300}, // A below the minimum
		{1000, 60, 600},
		{940, 60, 600}, // A qualifies on its accumulated 600
		{880, 10, 700},
		{870, 0, 1000}, // disqualified
		{870, 5, 755},  // floor(55 × 0.1)
	}
	if !reflect.DeepEqual(res.lines, wantLines) || !reflect.DeepEqual(res.awards, []int64{60, 75, 0}) ||
		!reflect.DeepEqual(res.qualified, []bool{true, true, false}) || res.remaining != 865 {
		t.Errorf("got %+v", res)
	}

	// The claim that empties the pool is cut short; later claims get 0.
	res, err = revShare(100, 0, 5000, []shareEvent{{0, 150}, {1, 100}, {0, 10}}, []bool{false, false})
	if err != nil {
		t.Fatal(err)
	}
	if want := []shareLine{{100, 75, 150}, {25, 25, 100}, {0, 0, 160}}; !reflect.DeepEqual(res.lines, want) || res.remaining != 0 {
		t.Errorf("cut short: got %+v", res)
	}

	// 0 bps: nobody claims, but referrers still qualify.
	res, _ = revShare(100, 10, 0, []shareEvent{{0, 150}}, []bool{false})
	if res.lines[0].claim != 0 || !res.qualified[0] || res.remaining != 100 {
		t.Errorf("0 bps: %+v", res)
	}

	// Exact 128-bit share of the largest amounts.
	if got := bpsShare(math.MaxInt64, 10000); got != math.MaxInt64 {
		t.Errorf("bpsShare(max, 10000) = %d", got)
	}
	if got := bpsShare(math.MaxInt64, 9999); got != int64(new(big.Int).Div(new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(9999)), big.NewInt(10000)).Int64()) {
		t.Errorf("bpsShare(max, 9999) = %d", got)
	}

	if _, err := revShare(10, 0, 100, []shareEvent{{0, math.MaxInt64}, {0, 1}}, []bool{false}); err == nil {
		t.Error("accumulated overflow: no error")
	}
}

func TestRevShareProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for c := 0; c < 500; c++ {
		slots := rng.IntN(6) + 1
		disq := make([]bool, slots)
		for i := range disq {
			disq[i] = rng.IntN(6) == 0
		}
		events := make([]shareEvent, rng.IntN(40))
		for i := range events {
			events[i] = shareEvent{slot: int32(rng.IntN(slots)), net: rng.Int64N(10_000) + 1}
		}
		pool := rng.Int64N(5_000)
		bps := rng.Int64N(10_001)
		minRev := rng.Int64N(3_000)
		res, err := revShare(pool, minRev, bps, events, disq)
		if err != nil {
			t.Fatal(err)
		}
		acc := make([]int64, slots)
		var claimed int64
		for k, ev := range events {
			acc[ev.slot] += ev.net
			l := res.lines[k]
			if l.claim < 0 || l.claim > l.poolBefore || l.poolBefore != pool-claimed || l.accumulated != acc[ev.slot] {
				t.Fatalf("case %d event %d: %+v (claimed %d of %d)", c, k, l, claimed, pool)
			}
			claimed += l.claim
		}
		if claimed > pool || res.remaining != pool-claimed {
			t.Fatalf("case %d: claimed %d of %d, remaining %d", c, claimed, pool, res.remaining)
		}
		var awards int64
		for s := range slots {
			uncapped := bpsShare(acc[s], bps)
			if res.awards[s] > uncapped {
				t.Fatalf("case %d: slot %d award %d above its uncapped share %d", c, s, res.awards[s], uncapped)
			}
			if disq[s] && (res.awards[s] != 0 || res.qualified[s]) {
				t.Fatalf("case %d: disqualified slot %d got %d", c, s, res.awards[s])
			}
			if !disq[s] && res.qualified[s] != (acc[s] >= minRev && acc[s] > 0) {
				t.Fatalf("case %d: slot %d qualified %v with %d of %d", c, s, res.qualified[s], acc[s], minRev)
			}
			awards += res.awards[s]
		}
		if awards != claimed {
			t.Fatalf("case %d: awards %d, claims %d", c, awards, claimed)
		}
	}
}
