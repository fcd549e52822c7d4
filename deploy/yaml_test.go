package deploy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// A strict parser for the YAML subset the manifests use, so the test needs
// no YAML module: block mappings and sequences by indentation (spaces
// only), "- key: value" items, plain, single- and double-quoted scalars,
// flow sequences of scalars ([a, "b"]), {} and [] , comments, and "---"
// between documents. Anything else (tabs, anchors, block scalars, flow
// mappings, duplicate keys, bad indentation) is an error, which is fine:
// the manifests are kept inside the subset. Scalars stay strings.

type yline struct {
	num    int // 1-based line number
	indent int
	text   string
}

// parseYAML returns one value per document: map[string]any, []any or
// string.
func parseYAML(src string) ([]any, error) {
	var docs []any
	var cur []yline
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		p := &yparser{lines: cur}
		v, err := p.node(cur[0].indent)
		if err != nil {
			return err
		}
		if p.i < len(p.lines) {
			return p.errf(p.lines[p.i], "unexpected indentation")
		}
		docs = append(docs, v)
		cur = nil
		return nil
	}
	for i, raw := range strings.Split(src, "\n") {
		if raw == "---" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		body := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(body, "\t") || strings.Contains(raw[:len(raw)-len(body)], "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", i+1)
		}
		text, err := stripComment(body)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if text == "" {
			continue
		}
		cur = append(cur, yline{num: i + 1, indent: len(raw) - len(body), text: text})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// stripComment removes a comment (# at the start or after a space, outside
// quotes) and trailing spaces.
func stripComment(s string) (string, error) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '"' || c == '\'':
			if i == 0 || strings.ContainsRune(" :[,-", rune(s[i-1])) {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " "), nil
		}
	}
	if quote != 0 {
		return "", fmt.Errorf("unterminated quote")
	}
	return strings.TrimRight(s, " "), nil
}

type yparser struct {
	lines []yline
	i     int
}

func (p *yparser) errf(l yline, format string, args ...any) error {
	return fmt.Errorf("line %d: %s: %q", l.num, fmt.Sprintf(format, args...), l.text)
}

func isItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// node parses the block starting at the current line, at indent.
func (p *yparser) node(indent int) (any, error) {
	l := p.lines[p.i]
	if isItem(l.text) {
		return p.sequence(indent)
	}
	if _, _, ok := splitKey(l.text); ok {
		return p.mapping(indent)
	}
	p.i++
	return scalar(l.text)
}

// splitKey splits "key: value" or "key:"; ok is false for a non-mapping line.
func splitKey(text string) (key, rest string, ok bool) {
	if strings.HasPrefix(text, "\"") || strings.HasPrefix(text, "'") ||
		strings.HasPrefix(text, "[") || strings.HasPrefix(text, "{") {
		return "", "", false
	}
	if k, ok := strings.CutSuffix(text, ":"); ok && !strings.Contains(k, ": ") {
		return k, "", true
	}
	k, r, ok := strings.Cut(text, ": ")
	if !ok || k == "" {
		return "", "", false
	}
	return k, strings.TrimLeft(r, " "), true
}

func (p *yparser) mapping(indent int) (map[string]any, error) {
	m := map[string]any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, p.errf(l, "unexpected indentation")
		}
		if isItem(l.text) {
			break // a sequence at the parent key's indent ends this mapping
		}
		k, rest, ok := splitKey(l.text)
		if !ok {
			return nil, p.errf(l, "want key: value")
		}
		if strings.ContainsAny(k, "&*!|>%@`\"'{}[]") || strings.Contains(k, " ") {
			return nil, p.errf(l, "key outside the subset")
		}
		if _, dup := m[k]; dup {
			return nil, p.errf(l, "duplicate key %s", k)
		}
		p.i++
		if rest != "" {
			v, err := scalar(rest)
			if err != nil {
				return nil, p.errf(l, "%v", err)
			}
			m[k] = v
			continue
		}
		switch {
		case p.i < len(p.lines) && p.lines[p.i].indent > indent:
			v, err := p.node(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			m[k] = v
		case p.i < len(p.lines) && p.lines[p.i].indent == indent && isItem(p.lines[p.i].text):
			v, err := p.sequence(indent)
			if err != nil {
				return nil, err
			}
			m[k] = v
		default:
			m[k] = ""
		}
	}
	return m, nil
}

func (p *yparser) sequence(indent int) ([]any, error) {
	var s []any
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent != indent || !isItem(l.text) {
			if l.indent > indent {
				return nil, p.errf(l, "unexpected indentation")
			}
			break
		}
		content := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if content == "" {
			p.i++
			if p.i >= len(p.lines) || p.lines[p.i].indent <= indent {
				return nil, p.errf(l, "empty item")
			}
			v, err := p.node(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
			continue
		}
		// "- key: value" opens a mapping whose keys line up with "key".
		p.lines[p.i] = yline{num: l.num, indent: l.indent + len(l.text) - len(content), text: content}
		v, err := p.node(p.lines[p.i].indent)
		if err != nil {
			return nil, err
		}
		s = append(s, v)
	}
	return s, nil
}

func scalar(s string) (any, error) {
	switch {
	case s == "{}":
		return map[string]any{}, nil
	case strings.HasPrefix(s, "["):
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("unterminated flow sequence")
		}
		inner := strings.TrimSpace(s[1 : len(s)-1])
		out := []any{}
		if inner == "" {
			return out, nil
		}
		for _, part := range strings.Split(inner, ",") {
			v, err := scalar(strings.TrimSpace(part))
			if err != nil {
				return nil, err
			}
			if _, ok := v.(string); !ok {
				return nil, fmt.Errorf("nested flow collection")
			}
			out = append(out, v)
		}
		return out, nil
	case strings.HasPrefix(s, "\""):
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("bad double-quoted string %s", s)
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return nil, fmt.Errorf("bad single-quoted string %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.ContainsAny(s[:1], "&*!|>%@`{]"):
		return nil, fmt.Errorf("scalar outside the subset: %s", s)
	case strings.Contains(s, ": "):
		return nil, fmt.Errorf("plain scalar with \": \" (a nested mapping on one line?): %s", s)
	}
	return s, nil
}

// get walks a parsed document: string elements index mappings, int
// elements index sequences.
func get(v any, path ...any) (any, error) {
	for i, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%v: not a mapping", path[:i])
			}
			if v, ok = m[k]; !ok {
				return nil, fmt.Errorf("%v: no key %q", path[:i], k)
			}
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil, fmt.Errorf("%v: no item %d", path[:i], k)
			}
			v = s[k]
		}
	}
	return v, nil
}

func TestYAMLSubsetParser(t *testing.T) {
	docs, err := parseYAML(`# c
a: 1
b:
  c: "x # not a comment"   # a comment
  d:
  - e: 'it''s'
    f: [run, "--x"]
  -
    g: h
  - plain
i: {}
---
j: k
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents", len(docs))
	}
	for _, tc := range []struct {
		path []any
		want any
	}{
		{[]any{"a"}, "1"},
		{[]any{"b", "c"}, "x # not a comment"},
		{[]any{"b", "d", 0, "e"}, "it's"},
		{[]any{"b", "d", 0, "f", 1}, "--x"},
		{[]any{"b", "d", 1, "g"}, "h"},
		{[]any{"b", "d", 2}, "plain"},
	} {
		got, err := get(docs[0], tc.path...)
		if err != nil || got != tc.want {
			t.Errorf("%v = %v (%v), want %v", tc.path, got, err, tc.want)
		}
	}
	if v, _ := get(docs[1], "j"); v != "k" {
		t.Errorf("second document j = %v", v)
	}
	for name, bad := range map[string]string{
		"tab":          "a:\n\tb: c\n",
		"over-indent":  "a: b\n  c: d\n",
		"duplicate":    "a: 1\na: 2\n",
		"anchor":       "a: &x 1\n",
		"block scalar": "a: |\n  text\n",
		"unterminated": "a: \"x\n",
		"flow mapping": "a: {b: c}\n",
		"item indent":  "a:\n  - b\n   - c\n",
		"not a key":    "a: b\nc\n",
	} {
		if _, err := parseYAML(bad); err == nil {
			t.Errorf("%s: parsed %q without error", name, bad)
		}
	}
}
