package public

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameBytes bounds an encoded refcode; longer names are cut and get a
// hash suffix (with ".json" the file name stays under 255 bytes).
const maxNameBytes = 200

// windowsReserved are device names that some filesystems refuse whatever the
// extension.
var windowsReserved = map[string]bool{
	"con": true, "prn": true, "aux": true, "nul": true,
	"com1": true, "com2": true, "com3": true, "com4": true, "com5": true, "com6": true, "com7": true, "com8": true, "com9": true,
	"lpt1": true, "lpt2": true, "lpt3": true, "lpt4": true, "lpt5": true, "lpt6": true, "lpt7": true, "lpt8": true, "lpt9": true,
}

// RefcodeFileName is the base name (without ".json") of a refcode's file
// under referrers/. An ordinary refcode is its own file name, as SPEC 3.1
// says (referrers/<refcode>.json); anything else is encoded. The rule, byte
// by byte over the refcode's UTF-8 bytes:
//
//   - A-Z, a-z, 0-9, '_' and '-' are kept;
//   - every other byte ('.', '/', '%', '~', NUL, space, non-ASCII
//     bytes...) becomes '~' followed by two upper case hex digits:
//     "../x" → "~2E~2E~2Fx", "é" → "~C3~A9", "~" → "~7E";
//   - the empty refcode is "~";
//   - a name equal to a Windows device name in any case (con, NUL,
//     com1...) has its first byte encoded: "con" → "~63on";
//   - a name longer than 200 bytes is cut to at most 167 bytes (never
//     inside a "~XX" escape) and followed by "." and the 32 lower case hex
//     digits of the first 16 bytes of the SHA-256 of the refcode.
//
// Names use only [A-Za-z0-9_~.-], so they need no escaping in a URL and can
// never be ".", ".." or contain a path separator. The rule is injective:
// '~' always starts an escape, so a name decodes to exactly one refcode
// (the hashed ones up to a 128-bit hash collision). Two refcodes that differ
// only in case get names that differ only in case: on a case-insensitive
// filesystem they would be one file, and Publish fails with a clear error
// rather than lose one (files are created with O_EXCL). Production
// publishes to case-sensitive storage.
func RefcodeFileName(refcode string) string {
	if refcode == "" {
		return "~"
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(refcode))
	cut := -1 // length of b at the last escape boundary <= 167 bytes
	for i := 0; i < len(refcode); i++ {
		if b.Len() <= maxNameBytes-33 {
			cut = b.Len()
		}
		c := refcode[i]
		if keep(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('~')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	name := b.String()
	if windowsReserved[strings.ToLower(name)] {
		c := name[0]
		name = "~" + string(hexDigits[c>>4]) + string(hexDigits[c&0xF]) + name[1:]
	}
	if len(name) > maxNameBytes {
		if b.Len() <= maxNameBytes-33 {
			cut = b.Len()
		}
		sum := sha256.Sum256([]byte(refcode))
		name = name[:cut] + "." + hex.EncodeToString(sum[:16])
	}
	return name
}

func keep(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// publicRefcode is the refcode as published. A refcode that contains '@'
// may be an email address, and no email address is ever published: it is
// replaced by "redacted-" and 12 hex digits of its SHA-256.
func publicRefcode(refcode string) string {
	if !strings.Contains(refcode, "@") {
		return refcode
	}
	sum := sha256.Sum256([]byte(refcode))
	return "redacted-" + hex.EncodeToString(sum[:6])
}

// wordPunct is the punctuation publicText keeps around a redacted word.
const wordPunct = `.,;:!?()[]{}"'<>`

// publicText redacts free text from the inputs (admin action reasons, cycle
// names, notes): every whitespace-separated word that contains '@' becomes
// "[redacted]", keeping the punctuation before and after it.
func publicText(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for s != "" {
		i := strings.IndexAny(s, " \t\r\n")
		word, sep := s, ""
		if i >= 0 {
			word, sep, s = s[:i], s[i:i+1], s[i+1:]
		} else {
			s = ""
		}
		if strings.Contains(word, "@") {
			// Keep the punctuation around the address: "(x@y.com):" is
			// "([redacted]):". The kept characters cannot hold an '@'.
			lead := len(word) - len(strings.TrimLeft(word, wordPunct))
			trail := len(word) - len(strings.TrimRight(word, wordPunct))
			if lead+trail >= len(word) {
				lead, trail = 0, 0
			}
			word = word[:lead] + "[redacted]" + word[len(word)-trail:]
		}
		b.WriteString(word)
		b.WriteString(sep)
	}
	return b.String()
}
