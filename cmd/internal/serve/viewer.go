package serve

import "embed"

// The viewer: one page, plain HTML, CSS and JavaScript, embedded in the
// binary (no build step, no CDN, no request to anywhere but this server:
// its Content-Security-Policy allows only 'self').
//
//go:embed viewer/index.html viewer/viewer.css viewer/viewer.js
var viewerFiles embed.FS

type asset struct {
	contentType string
	doc         *doc
}

// viewerAssets maps a request path to a viewer file.
var viewerAssets = func() map[string]asset {
	m := map[string]asset{}
	for path, f := range map[string]struct{ file, ctype string }{
		"/":                  {"viewer/index.html", "text/html; charset=utf-8"},
		"/viewer/viewer.css": {"viewer/viewer.css", "text/css; charset=utf-8"},
		"/viewer/viewer.js":  {"viewer/viewer.js", "text/javascript; charset=utf-8"},
	} {
		b, err := viewerFiles.ReadFile(f.file)
		if err != nil {
			panic("serve: viewer file missing from the binary: " + f.file) // caught by every test
		}
		m[path] = asset{contentType: f.ctype, doc: newDoc(b)}
	}
	return m
}()
