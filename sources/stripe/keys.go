package stripe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// CheckKeys reports a key that appears twice in one object of the JSON
// value obj, at any depth: `"amount_paid":1500,"amount_paid":150000000` is
// ambiguous money, and encoding/json (so stripe-go) would silently keep the
// last. Keys are compared as decoded (an escaped key is the same key) and,
// as encoding/json matches struct fields, regardless of case; only in a
// metadata object, which decodes into a map, do keys differing in case
// count as different. A syntax error is not reported here: the decoder
// reports it.
func CheckKeys(obj []byte) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	return checkKeys(dec, "", false)
}

func checkKeys(dec *json.Decoder, path string, exactKeys bool) error {
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil
			}
			k, _ := kt.(string)
			fk := k
			if !exactKeys {
				fk = foldKey(k)
			}
			if seen[fk] {
				if path == "" {
					return fmt.Errorf("key %q appears twice", k)
				}
				return fmt.Errorf("key %q appears twice in %s", k, path)
			}
			seen[fk] = true
			if err := checkKeys(dec, strings.TrimPrefix(path+"."+k, "."), k == "metadata"); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := checkKeys(dec, fmt.Sprintf("%s[%d]", path, i), false); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	}
	return nil
}

// foldKey folds a key as encoding/json does when it matches a struct
// field's name.
func foldKey(k string) string {
	return strings.Map(func(r rune) rune { return unicode.ToUpper(unicode.ToLower(r)) }, k)
}
