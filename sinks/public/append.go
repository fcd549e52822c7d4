package public

import (
	"strconv"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/internal/jsonstr"
)

// The referrer files and leaderboard pages are most of a snapshot (one file
// per referrer, each with every cycle), so they are written by hand instead
// of through encoding/json's reflection: the same bytes (TestAppendMatches
// checks them against encoding/json), several times faster, without the
// intermediate values.

// jsonAppender is a document that writes itself.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

func appendMoney(b []byte, m pipeline.Money) []byte {
	b = append(b, `{"currency":`...)
	b = jsonstr.Append(b, m.Currency)
	b = append(b, `,"amount":"`...)
	b = strconv.AppendInt(b, m.Amount, 10)
	return append(b, `"}`...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func (s score) appendJSON(b []byte) []byte {
	if s.money {
		return appendMoney(b, s.m)
	}
	return strconv.AppendInt(b, s.m.Amount, 10)
}

func (x boost) appendJSON(b []byte) []byte {
	if x.den == 0 {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, float64(x.num)/float64(x.den), 'f', -1, 64)
}

// appendJSON appends the fields an entry and a referrer cycle share, from
// "score" to "adminAction", and the closing brace.
func (m *metrics) appendJSON(b []byte) []byte {
	b = append(b, `,"score":`...)
	b = m.Score.appendJSON(b)
	b = append(b, `,"referrals":`...)
	b = strconv.AppendInt(b, m.Referrals, 10)
	b = append(b, `,"conversions":`...)
	b = strconv.AppendInt(b, m.Conversions, 10)
	b = append(b, `,"pendingConversions":`...)
	b = strconv.AppendInt(b, m.PendingConversions, 10)
	b = append(b, `,"revenue":`...)
	b = appendMoney(b, m.Revenue)
	b = append(b, `,"pendingRevenue":`...)
	b = appendMoney(b, m.PendingRevenue)
	b = append(b, `,"qualified":`...)
	b = appendBool(b, m.Qualified)
	if m.FinalScoreBoost != nil {
		b = append(b, `,"finalScoreBoost":`...)
		b = m.FinalScoreBoost.appendJSON(b)
	}
	b = append(b, `,"award":`...)
	b = appendMoney(b, m.Award)
	b = append(b, `,"adminAction":`...)
	if a := m.AdminAction; a == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"actionType":`...)
		b = jsonstr.Append(b, string(a.ActionType))
		b = append(b, `,"reason":`...)
		b = jsonstr.Append(b, a.Reason)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (e *entry) appendJSON(b []byte) []byte {
	b = append(b, `{"rank":`...)
	b = strconv.AppendInt(b, int64(e.Rank), 10)
	b = append(b, `,"refcode":`...)
	b = jsonstr.Append(b, e.Refcode)
	return e.metrics.appendJSON(b)
}

func (r *referrerCycle) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = jsonstr.Append(b, r.Type)
	b = append(b, `,"rank":`...)
	if r.Rank == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*r.Rank), 10)
	}
	return r.metrics.appendJSON(b)
}

func (p leaderboardPage) appendJSON(b []byte) []byte {
	b = append(b, `{"cycleId":`...)
	b = jsonstr.Append(b, p.CycleID)
	b = append(b, `,"status":`...)
	b = jsonstr.Append(b, string(p.Status))
	b = append(b, `,"asOf":`...)
	b = jsonstr.Append(b, p.AsOf)
	b = append(b, `,"entries":`...)
	if p.Entries == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = p.Entries[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	c := p.PageContext
	b = append(b, `,"pageContext":{"page":`...)
	b = strconv.AppendInt(b, int64(c.Page), 10)
	b = append(b, `,"recordsPerPage":`...)
	b = strconv.AppendInt(b, int64(c.RecordsPerPage), 10)
	b = append(b, `,"totalRecords":`...)
	b = strconv.AppendInt(b, int64(c.TotalRecords), 10)
	b = append(b, `,"totalPages":`...)
	b = strconv.AppendInt(b, int64(c.TotalPages), 10)
	b = append(b, `,"hasNext":`...)
	b = appendBool(b, c.HasNext)
	b = append(b, `,"hasPrev":`...)
	b = appendBool(b, c.HasPrev)
	return append(b, "}}"...)
}

func (r referrerFile) appendJSON(b []byte) []byte {
	b = append(b, `{"refcode":`...)
	b = jsonstr.Append(b, r.refcode)
	b = append(b, `,"cycles":{`...)
	for i := range r.cycles {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, r.cycles[i].id)
		b = append(b, ':')
		if raw := r.cycles[i].raw; raw != nil {
			b = append(b, raw...)
			continue
		}
		b = r.cycles[i].v.appendJSON(b)
	}
	return append(b, "}}"...)
}
