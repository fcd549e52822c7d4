package pipeline

import "strconv"

// MarshalJSON renders m as {"currency":"usd","amount":"<digits>"}: the
// amount is a decimal string of minor units so that no JSON reader turns it
// into a float (SPEC 3.1).
func (m Money) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 40+len(m.Currency))
	b = append(b, `{"currency":`...)
	b = strconv.AppendQuote(b, m.Currency)
	b = append(b, `,"amount":"`...)
	b = strconv.AppendInt(b, m.Amount, 10)
	b = append(b, `"}`...)
	return b, nil
}
