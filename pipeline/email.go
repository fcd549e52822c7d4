package pipeline

import "strings"

// normalizeEmail is the display form of an email address: trimmed and
// lowercased (SPEC 2.1).
func normalizeEmail(raw string) string {
	return strings.ToLower(strings.TrimSpace(raw))
}

// CanonicalEmail returns the canonical form of an email address (SPEC 2.1),
// the key referees, referrers and Stripe customers are matched on: trimmed
// and lowercased, without a "+tag" in the local part, and for gmail.com and
// googlemail.com without dots in the local part and with the domain
// gmail.com.
//
// ok is false when the address is invalid: not exactly one '@', or an empty
// local or domain part. A '+' that starts the local part is not a tag
// ("+x@example.com" stays as it is). A gmail address whose local part is
// nothing but dots (and a tag) has no canonical form and is invalid too.
//
// CanonicalEmail is idempotent: the canonical form of a canonical form is
// itself.
func CanonicalEmail(raw string) (canonical string, ok bool) {
	s, ok := canonicalStep(raw)
	// One step is a fixed point for every address seen in practice; the
	// loop makes idempotence hold for pathological ones too (a local part
	// such as ". x" whose dots hide whitespace). Every later step can only
	// shorten the string, so the loop ends.
	for ok {
		next, nok := canonicalStep(s)
		if !nok {
			return "", false
		}
		if next == s {
			return s, true
		}
		s = next
	}
	return "", false
}

// canonicalStep applies the canonicalisation rules once.
func canonicalStep(raw string) (string, bool) {
	s := normalizeEmail(raw)
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return "", false
	}
	local, domain := s[:at], s[at+1:]
	changed := false
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
		changed = true
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		if strings.IndexByte(local, '.') >= 0 {
			local = strings.ReplaceAll(local, ".", "")
			if local == "" {
				return "", false
			}
			changed = true
		}
		if domain == "googlemail.com" {
			domain = "gmail.com"
			changed = true
		}
	}
	if !changed {
		return s, true
	}
	return local + "@" + domain, true
}
