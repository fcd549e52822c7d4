// Package redact is the one way a URL reaches a message, a log line or an
// output file: without credentials, query string or fragment, which may
// carry secrets (tokens, signatures, passwords). Every variable that holds a
// URL (STRIPE_API_BASE, D1_API_BASE, BIGQUERY_ENDPOINT,
// CUSTOM_REFERRAL_PROGRAM_CYCLES, and bucket URLs) is shown through URL; the
// base URLs of the remote APIs are checked with Base.
package redact

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// URL returns rawURL without credentials, query string or fragment:
// "https://user:pw@host/c.json?sig=x#t" becomes "https://host/c.json". A URL
// that does not parse is cut the same way by hand, erring on the side of
// dropping text.
func URL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Opaque == "" {
		u.User = nil
		u.RawQuery, u.ForceQuery = "", false
		u.Fragment, u.RawFragment = "", ""
		return u.String()
	}
	s := rawURL
	scheme, rest, found := strings.Cut(s, "://")
	if !found {
		scheme, rest = "", s
	}
	// Everything up to the last '@' may be userinfo, even when a password
	// holds '/', '?' or '#'.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if found {
		return scheme + "://" + rest
	}
	return rest
}

// urlLike matches a URL inside text: a scheme, "://", and everything up to
// white space or a quote.
var urlLike = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]*`)

// URLsIn returns text with every URL in it passed through URL: for the
// messages of libraries that quote a URL they were given (with its
// credentials and query) in a form of their own.
// Punctuation that ends a sentence or clause after a URL is kept.
func URLsIn(text string) string {
	return urlLike.ReplaceAllStringFunc(text, func(u string) string {
		core := strings.TrimRight(u, ".,;:)]")
		return URL(core) + u[len(core):]
	})
}

// ErrBadBase is the class of a base URL Base refuses.
var ErrBadBase = errors.New("bad base URL")

// Base checks the base URL of a remote API: an absolute http or https URL
// with a host and no credentials, query string or fragment (a token belongs
// in its own variable, where it is never printed). The error quotes the URL
// through URL.
func Base(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w %q: it does not parse", ErrBadBase, URL(rawURL))
	case (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("%w %q: want an absolute http(s) URL", ErrBadBase, URL(rawURL))
	case u.User != nil:
		return nil, fmt.Errorf("%w %q: it has credentials in it; they go in their own variable", ErrBadBase, URL(rawURL))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%w %q: it has a query string or fragment; a token goes in its own variable", ErrBadBase, URL(rawURL))
	}
	return u, nil
}
