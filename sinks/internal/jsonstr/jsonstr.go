// Package jsonstr appends a Go string as encoding/json writes it, without
// the reflection and allocation of json.Marshal for the common case of
// plain ASCII (ids, refcodes, dates). The public JSON writer and the SQLite
// warehouse's JSON columns share it.
package jsonstr

import "encoding/json"

// Append appends s to b as encoding/json writes a string, with its default
// HTML-safe escaping of <, > and &.
func Append(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
