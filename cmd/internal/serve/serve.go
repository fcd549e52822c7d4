// Package serve is `refrecon serve`: an HTTP handler that serves a public
// store (latest.json and snapshots/**) read-only with the headers of SPEC
// 3.1, and the embedded viewer page at "/".
//
// Only the documents of the public layout are served: latest.json and,
// under snapshots/<id>/, manifest.json, cycles.json, leaderboard pages and
// referrer files, by the names schema.KindOf accepts. Anything else (the
// lock file, temporary directories, a directory, any path with "..", an
// encoded slash) is 404 without touching the store, so a request can never
// name a key outside the snapshot tree. GET and HEAD only.
//
// Every document gets a strong ETag, the SHA-256 of its bytes (for a
// snapshot file the sha256 its manifest lists), and If-None-Match answers
// 304. A client that accepts gzip gets the document gzipped, with its own
// ETag ("<sha256>-gzip") and Vary: Accept-Encoding. Snapshot documents
// never change, so once read they are served from a bounded cache (bytes,
// hash and gzip form); latest.json is read from the store every time.
package serve

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/schema"
)

// Store is what serve reads: a public store (sinks/public's Storage has
// these methods). Errors for a missing key match fs.ErrNotExist.
type Store interface {
	ReadLatest(ctx context.Context) (data []byte, version string, err error)
	ReadObject(ctx context.Context, key string) ([]byte, error)
}

// Cache-Control of the documents (SPEC 3.1).
const (
	SnapshotCacheControl        = "public, max-age=31536000, immutable"
	DefaultLatestCacheControl   = "public, max-age=60"
	viewerCacheControl          = "no-cache"
	viewerContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// Options configure the handler.
type Options struct {
	// LatestCacheControl is latest.json's Cache-Control (LATEST_CACHE_CONTROL);
	// "" is DefaultLatestCacheControl.
	LatestCacheControl string
	// Logf, when set, receives store errors (never the request's data).
	Logf func(format string, args ...any)
	// CacheBytes bounds the memory kept of snapshot documents already
	// served (their bytes, sha256 and gzip form); 0 is DefaultCacheBytes,
	// negative turns the cache off. Snapshot documents never change
	// (SPEC 3.1), so a cached one is never stale; latest.json is read
	// from the store on every request.
	CacheBytes int
}

// DefaultCacheBytes is the default bound of the document cache.
const DefaultCacheBytes = 64 << 20

type handler struct {
	store  Store
	latest string
	logf   func(format string, args ...any)
	cache  *docCache
}

// Handler serves store and the viewer.
func Handler(store Store, opt Options) http.Handler {
	h := &handler{store: store, latest: opt.LatestCacheControl, logf: opt.Logf}
	if h.latest == "" {
		h.latest = DefaultLatestCacheControl
	}
	if h.logf == nil {
		h.logf = func(string, ...any) {}
	}
	if opt.CacheBytes >= 0 {
		h.cache = newDocCache(cmp.Or(opt.CacheBytes, DefaultCacheBytes))
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/latest.json":
		data, _, err := h.store.ReadLatest(r.Context())
		h.document(w, r, newDoc(data), err, h.latest)
		return
	case strings.HasPrefix(p, "/snapshots/"):
		id, rel, _ := strings.Cut(strings.TrimPrefix(p, "/snapshots/"), "/")
		if !public.IsSnapshotID(id) {
			break
		}
		if _, err := schema.KindOf(rel); err != nil {
			break
		}
		key := public.SnapshotKey(id, rel)
		d := h.cache.get(key)
		var err error
		if d == nil {
			var data []byte
			data, err = h.store.ReadObject(r.Context(), key)
			if err == nil {
				d = h.cache.put(key, newDoc(data))
			}
		}
		h.document(w, r, d, err, SnapshotCacheControl)
		return
	default:
		if a, ok := viewerAssets[p]; ok {
			hdr := w.Header()
			hdr.Set("Content-Type", a.contentType)
			hdr.Set("Cache-Control", viewerCacheControl)
			hdr.Set("Content-Security-Policy", viewerContentSecurityPolicy)
			hdr.Set("Referrer-Policy", "no-referrer")
			hdr.Set("X-Content-Type-Options", "nosniff")
			h.content(w, r, a.doc)
			return
		}
	}
	http.NotFound(w, r)
}

// document answers with one public document, or 404 / 502.
func (h *handler) document(w http.ResponseWriter, r *http.Request, d *doc, err error, cacheControl string) {
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.logf("serve %s: %v", r.URL.Path, err)
		http.Error(w, "the public store could not be read", http.StatusBadGateway)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", cacheControl)
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Public, read-only data: a frontend in development on another origin
	// may read it.
	hdr.Set("Access-Control-Allow-Origin", "*")
	h.content(w, r, d)
}

// content writes d with its ETag, gzipped when the client asks for it,
// through http.ServeContent (If-None-Match, HEAD, Range).
func (h *handler) content(w http.ResponseWriter, r *http.Request, d *doc) {
	hdr := w.Header()
	hdr.Add("Vary", "Accept-Encoding")
	data := d.data
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		hdr.Set("ETag", `"`+d.tag+`-gzip"`)
		if notModified(r, hdr.Get("ETag")) {
			// Answer without compressing; ServeContent writes the 304.
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(nil))
			return
		}
		data = d.gzipped()
	} else {
		hdr.Set("ETag", `"`+d.tag+`"`)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// doc is one document as served: its bytes, the hex sha256 that is its
// ETag, and its gzip form, made on first use.
type doc struct {
	data []byte
	tag  string
	once sync.Once
	gz   []byte
}

func newDoc(data []byte) *doc {
	sum := sha256.Sum256(data)
	return &doc{data: data, tag: hex.EncodeToString(sum[:])}
}

func (d *doc) gzipped() []byte {
	d.once.Do(func() { d.gz = gzipped(d.data) })
	return d.gz
}

// size is what d holds in memory, about (the gzip form counted at a
// third of the bytes before it is made).
func (d *doc) size() int { return len(d.data) + len(d.data)/3 + 128 }

// docCache keeps snapshot documents by key, at most max bytes of them,
// evicting the oldest first. A nil *docCache caches nothing.
type docCache struct {
	mu    sync.Mutex
	max   int
	size  int
	m     map[string]*doc
	order []string // keys, oldest first
}

func newDocCache(max int) *docCache { return &docCache{max: max, m: map[string]*doc{}} }

func (c *docCache) get(key string) *doc {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

// put stores d under key unless another request stored it first, and
// returns the document to serve.
func (c *docCache) put(key string, d *doc) *doc {
	if c == nil || d.size() > c.max {
		return d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		return old
	}
	for c.size+d.size() > c.max && len(c.order) > 0 {
		oldest := c.order[0]
		c.order = c.order[1:]
		c.size -= c.m[oldest].size()
		delete(c.m, oldest)
	}
	c.m[key] = d
	c.order = append(c.order, key)
	c.size += d.size()
	return d
}

// notModified reports whether If-None-Match names etag (weak comparison,
// as RFC 9110 wants for If-None-Match) or is "*".
func notModified(r *http.Request, etag string) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip: gzip
// (or *) listed with a q-value above 0, and gzip not refused by name.
func acceptsGzip(ae string) bool {
	star := false
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return zw
}}

func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data)/3 + 64)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write(data) // a bytes.Buffer does not fail
	_ = zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}

// ShutdownTimeout bounds how long Serve waits for requests in flight once
// its context ends.
const ShutdownTimeout = 10 * time.Second

// Serve serves h on ln until ctx ends (SIGTERM), then shuts down
// gracefully: it stops accepting, lets requests in flight finish (at most
// ShutdownTimeout) and returns nil.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}
