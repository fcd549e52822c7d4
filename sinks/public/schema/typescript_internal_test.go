package schema

import (
	"strings"
	"testing"
)

// TestGeneratorRefusesWhatItCannotRender: a keyword with structural meaning
// the generator does not implement is an error, never silently dropped.
func TestGeneratorRefusesWhatItCannotRender(t *testing.T) {
	for _, src := range []string{
		`{"type": "object", "patternProperties": {"^x": {"type": "string"}}}`,
		`{"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}}`,
		`{"type": "object", "properties": {"a": {"$ref": "other.json#/x"}}}`,
		`{"type": "array"}`,
		`{"description": "no type"}`,
		`{"type": "object", "allOf": [{"properties": {"a": {"type": "string"}}}], "properties": {}}`,
	} {
		n, err := decodeOrdered([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		g := &tsGen{names: map[string]string{}, file: "x.schema.json"}
		if err := g.decl("X", n); err == nil {
			t.Errorf("%s: rendered as\n%s", src, g.buf.String())
		} else if strings.Contains(err.Error(), "panic") {
			t.Error(err)
		}
	}
}
