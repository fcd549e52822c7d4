package pipeline

import (
	"cmp"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
)

// pieShare is one ranked referrer's share of a pie-split pool.
type pieShare struct {
	qualified          bool
	boostNum, boostDen int64 // finalScoreBoost, reduced; 0/1 when not qualified
	award              int64
}

// pieDetail is the arithmetic of a qualified share, for the decision trace
// (trace.go): its position q, weight, pool × weight mod W, whether it got
// one of the units left over, and W (shared by every share).
type pieDetail struct {
	position           int64
	weight, rem, total *big.Int
	extra              bool
}

// pieSplit shares pool between referrers given in rank order (SPEC 2.4).
// The first n referrers that are not disqualified and have a positive score
// qualify; the q-th (1-based) weighs score × (2n − 1 − q), or score when
// n = 1. Each gets floor(pool × weight / W) and the units left over go one
// each to the largest remainders (pool × weight mod W), ties to the better
// rank, so the awards sum to pool whenever W > 0. The arithmetic is exact.
func pieSplit(pool, n int64, scores []int64, disqualified []bool) []pieShare {
	return pieSplitDetailed(pool, n, scores, disqualified, nil)
}

// pieSplitDetailed is pieSplit; when detail is not nil (len(scores) long)
// it also records each qualified share's arithmetic there.
func pieSplitDetailed(pool, n int64, scores []int64, disqualified []bool, detail []pieDetail) []pieShare {
	out := make([]pieShare, len(scores))
	for i := range out {
		out[i].boostDen = 1
	}
	type qual struct {
		i      int
		weight *big.Int
		rem    *big.Int
	}
	var quals []qual
	total := new(big.Int)
	bigN := big.NewInt(n)
	for i, s := range scores {
		if int64(len(quals)) >= n {
			break
		}
		if disqualified[i] || s <= 0 {
			continue
		}
		q := int64(len(quals)) + 1
		w := big.NewInt(s)
		if n > 1 {
			// 2n − 1 − q in big integers: n may be as large as int64 allows.
			f := new(big.Int).Lsh(bigN, 1)
			f.Sub(f, big.NewInt(1+q))
			w.Mul(w, f)
			num, den := n-q, n-1
			if g := gcd(num, den); g > 1 {
				num, den = num/g, den/g
			}
			out[i].boostNum, out[i].boostDen = num, den
		} else {
			out[i].boostNum = 1
		}
		out[i].qualified = true
		if detail != nil {
			detail[i] = pieDetail{position: q, weight: w, total: total}
		}
		total.Add(total, w)
		quals = append(quals, qual{i: i, weight: w})
	}
	if total.Sign() == 0 || pool == 0 {
		return out
	}
	bigPool := big.NewInt(pool)
	left := pool
	prod := new(big.Int)
	for k := range quals {
		qu := &quals[k]
		prod.Mul(bigPool, qu.weight)
		quo, rem := new(big.Int).QuoRem(prod, total, new(big.Int))
		// quo <= pool: it fits in int64.
		out[qu.i].award = quo.Int64()
		left -= out[qu.i].award
		qu.rem = rem
		if detail != nil {
			detail[qu.i].rem = rem
		}
	}
	if left > 0 {
		// left < len(quals): each remainder is below W and they sum to
		// left × W.
		slices.SortStableFunc(quals, func(a, b qual) int {
			if c := b.rem.Cmp(a.rem); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
		for k := int64(0); k < left; k++ {
			out[quals[k].i].award++
			if detail != nil {
				detail[quals[k].i].extra = true
			}
		}
	}
	return out
}

// gcd is the greatest common divisor of a, b >= 0.
func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// shareEvent is a rev-share-cap revenue event: the referrer's slot and the
// payment's net amount.
type shareEvent struct {
	slot int32
	net  int64
}

// shareLine is the accounting of one rev-share-cap event.
type shareLine struct {
	poolBefore  int64
	claim       int64
	accumulated int64
}

// revShareResult is the outcome of a rev-share-cap cycle.
type revShareResult struct {
	lines     []shareLine // one per event, in event order
	awards    []int64     // per slot
	qualified []bool      // per slot
	remaining int64
}

// revShare processes rev-share-cap revenue events in order (SPEC 2.5). A
// referrer qualifies on the event that takes its accumulated revenue to
// minRevenue (and it is not disqualified); that event claims
// floor(accumulated × bps / 10000), later ones floor(net × bps / 10000),
// each capped by what is left of the pool.
func revShare(pool, minRevenue, bps int64, events []shareEvent, disqualified []bool) (revShareResult, error) {
	slots := len(disqualified)
	r := revShareResult{
		lines:     make([]shareLine, len(events)),
		awards:    make([]int64, slots),
		qualified: make([]bool, slots),
		remaining: pool,
	}
	acc := make([]int64, slots)
	for k, ev := range events {
		var ok bool
		if acc[ev.slot], ok = addInt64(acc[ev.slot], ev.net); !ok {
			return revShareResult{}, fmt.Errorf("event %d: accumulated revenue: %w", k, errOverflow)
		}
		line := &r.lines[k]
		line.poolBefore = r.remaining
		line.accumulated = acc[ev.slot]
		if disqualified[ev.slot] {
			continue
		}
		var share int64
		switch {
		case r.qualified[ev.slot]:
			share = bpsShare(ev.net, bps)
		case acc[ev.slot] >= minRevenue:
			r.qualified[ev.slot] = true
			share = bpsShare(acc[ev.slot], bps)
		default:
			continue
		}
		line.claim = min(share, r.remaining)
		r.remaining -= line.claim
		r.awards[ev.slot] += line.claim
	}
	return r, nil
}

// bpsShare is floor(amount × bps / 10000) for amount >= 0 and bps in
// 0..10000, exact in 128 bits.
func bpsShare(amount, bps int64) int64 {
	if amount <= 0 || bps <= 0 {
		return 0
	}
	bps = min(bps, 10000)
	// amount < 2^63 and bps <= 10000 < 2^14, so hi < 2^13 < 10000 and
	// Div64 cannot overflow.
	hi, lo := bits.Mul64(uint64(amount), uint64(bps))
	q, _ := bits.Div64(hi, lo, 10000)
	return int64(q)
}

// pieSplitCycle ranks, qualifies and awards a pie-split cycle and fills its
// leaderboard, accounting lines and pool remaining.
func (e *engine) pieSplitCycle(c *cycleRules, ranked []rankedReferrer, events []revenueEvent, sc *cycleScratch, cr *CycleResult) error {
	r := &c.c.Rules
	score := func(x *rankedReferrer) int64 {
		if r.ScoreBy == ScoreByRevenue {
			return x.m.revenue
		}
		return x.m.conversions
	}
	slices.SortFunc(ranked, func(a, b rankedReferrer) int { return compareRanked(score(&a), score(&b), &a, &b) })
	scores := make([]int64, len(ranked))
	disq := make([]bool, len(ranked))
	for i := range ranked {
		scores[i] = score(&ranked[i])
		disq[i] = ranked[i].disqualified
	}
	var detail []pieDetail
	if e.trace != nil {
		detail = make([]pieDetail, len(ranked))
		e.trace.pie[c.idx] = detail // leaderboard order
	}
	shares := pieSplitDetailed(r.AwardPool.Amount, r.MaxQualifiedReferrers, scores, disq, detail)
	cr.Leaderboard = make([]Entry, len(ranked))
	awarded := int64(0)
	for i := range ranked {
		en := ranked[i].entry(c, i+1, scores[i])
		sh := shares[i]
		en.Qualified, en.BoostNum, en.BoostDen, en.Award = sh.qualified, sh.boostNum, sh.boostDen, sh.award
		awarded += sh.award
		cr.Leaderboard[i] = en
	}
	cr.AwardPoolRemaining = r.AwardPool.Amount - awarded
	for k := range events {
		ev := &events[k]
		m := sc.get(e.valid[ev.ref].referrer)
		m.accumulated += ev.net // bounded by the referrer's checked revenue
		cr.Events[k] = e.accountingLine(ev, m.accumulated)
	}
	return nil
}

// revShareCycle processes a rev-share-cap cycle's events and fills its
// leaderboard, accounting lines and pool remaining.
func (e *engine) revShareCycle(c *cycleRules, ranked []rankedReferrer, events []revenueEvent, cr *CycleResult) error {
	r := &c.c.Rules
	slot := make(map[int32]int32, len(ranked))
	disq := make([]bool, len(ranked))
	for i := range ranked {
		slot[ranked[i].referrer] = int32(i)
		disq[i] = ranked[i].disqualified
	}
	sev := make([]shareEvent, len(events))
	for k := range events {
		sev[k] = shareEvent{slot: slot[e.valid[events[k].ref].referrer], net: events[k].net}
	}
	res, err := revShare(r.AwardPool.Amount, r.MinQualifyingRevenue.Amount, r.RevenueShareBps, sev, disq)
	if err != nil {
		return err
	}
	for k := range events {
		line := e.accountingLine(&events[k], res.lines[k].accumulated)
		line.PoolBefore, line.Claim = res.lines[k].poolBefore, res.lines[k].claim
		cr.Events[k] = line
	}
	cr.AwardPoolRemaining = res.remaining
	type ordered struct {
		ref       *rankedReferrer
		award     int64
		qualified bool
	}
	order := make([]ordered, len(ranked))
	for i := range ranked {
		order[i] = ordered{ref: &ranked[i], award: res.awards[i], qualified: res.qualified[i]}
	}
	slices.SortFunc(order, func(a, b ordered) int {
		if c := cmp.Compare(b.award, a.award); c != 0 {
			return c
		}
		return compareRanked(a.ref.m.revenue, b.ref.m.revenue, a.ref, b.ref)
	})
	cr.Leaderboard = make([]Entry, len(order))
	for i, o := range order {
		en := o.ref.entry(c, i+1, o.ref.m.revenue)
		en.Qualified, en.Award = o.qualified, o.award
		cr.Leaderboard[i] = en
	}
	return nil
}
