package serve_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/cmd/internal/serve"
	"github.com/refrecon/refrecon/sinks/public/localdir"
)

// failingStore fails every read with an error that is not "not found".
type failingStore struct{}

func (failingStore) ReadLatest(context.Context) ([]byte, string, error) {
	return nil, "", errors.New("bucket unreachable")
}
func (failingStore) ReadObject(context.Context, string) ([]byte, error) {
	return nil, errors.New("bucket unreachable")
}

// goldenPublic copies the default fixture run's published tree (checked in
// under cmd/refrecon's testdata) into a temporary directory, and adds what
// a publisher leaves beside a snapshot: the lock file and a temporary
// directory.
func goldenPublic(t *testing.T) (dir, snapshotID string) {
	t.Helper()
	src := filepath.Join("..", "..", "refrecon", "testdata", "golden", "default", "public")
	dir = t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	var latest struct{ SnapshotID string }
	b, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &latest); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, ".refrecon.lock"), []byte("lock"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "snapshots", ".tmp-"+latest.SnapshotID+"-x", "referrers"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "snapshots", ".tmp-"+latest.SnapshotID+"-x", "cycles.json"), []byte("{}"), 0o644))
	return dir, latest.SnapshotID
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type manifest struct {
	Files []struct {
		Path   string `json:"path"`
		SHA256 string `json:"sha256"`
	} `json:"files"`
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDocumentsHeadersAndETags(t *testing.T) {
	dir, id := goldenPublic(t)
	h := serve.Handler(localdir.Open(dir), serve.Options{LatestCacheControl: "public, max-age=5"})

	res := get(t, h, "GET", "/latest.json", nil)
	want, _ := os.ReadFile(filepath.Join(dir, "latest.json"))
	if res.StatusCode != 200 || !bytes.Equal(body(t, res), want) {
		t.Fatalf("latest.json: %d", res.StatusCode)
	}
	if got := res.Header.Get("Cache-Control"); got != "public, max-age=5" {
		t.Errorf("latest.json Cache-Control %q, want LATEST_CACHE_CONTROL", got)
	}
	if got := res.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("latest.json Content-Type %q", got)
	}

	var m manifest
	mb, _ := os.ReadFile(filepath.Join(dir, "snapshots", id, "manifest.json"))
	must(t, json.Unmarshal(mb, &m))
	if len(m.Files) < 3 {
		t.Fatalf("manifest lists %d files", len(m.Files))
	}
	for _, f := range append(m.Files, struct {
		Path   string `json:"path"`
		SHA256 string `json:"sha256"`
	}{Path: "manifest.json"}) {
		target := "/snapshots/" + id + "/" + f.Path
		res := get(t, h, "GET", target, nil)
		got := body(t, res)
		disk, _ := os.ReadFile(filepath.Join(dir, "snapshots", id, filepath.FromSlash(f.Path)))
		if res.StatusCode != 200 || !bytes.Equal(got, disk) {
			t.Fatalf("%s: %d, %d bytes (disk %d)", target, res.StatusCode, len(got), len(disk))
		}
		if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "application/json" || cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Content-Type %q, Cache-Control %q", target, ct, cc)
		}
		etag := res.Header.Get("ETag")
		if f.SHA256 != "" && etag != `"`+f.SHA256+`"` {
			t.Errorf("%s: ETag %s, want the manifest's sha256 %s", target, etag, f.SHA256)
		}
		res = get(t, h, "GET", target, map[string]string{"If-None-Match": `"nope", ` + etag})
		if res.StatusCode != http.StatusNotModified || len(body(t, res)) != 0 {
			t.Errorf("%s with If-None-Match: %d", target, res.StatusCode)
		}
	}
}

func TestGzip(t *testing.T) {
	dir, id := goldenPublic(t)
	h := serve.Handler(localdir.Open(dir), serve.Options{})
	target := "/snapshots/" + id + "/cycles/cycle-1/leaderboard/1.json"
	plain := get(t, h, "GET", target, nil)
	plainBody := body(t, plain)
	if plain.Header.Get("Content-Encoding") != "" || !strings.Contains(plain.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("identity response: Content-Encoding %q, Vary %q", plain.Header.Get("Content-Encoding"), plain.Header.Get("Vary"))
	}
	for _, ae := range []string{"gzip", "br, gzip;q=0.8", "*", "deflate, GZIP"} {
		res := get(t, h, "GET", target, map[string]string{"Accept-Encoding": ae})
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: not gzipped", ae)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body(t, res)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, plainBody) {
			t.Fatalf("Accept-Encoding %q: gunzipped body differs (%v)", ae, err)
		}
		if etag := res.Header.Get("ETag"); etag == plain.Header.Get("ETag") || !strings.HasSuffix(etag, `-gzip"`) {
			t.Errorf("gzip ETag %s must differ from the identity one %s", etag, plain.Header.Get("ETag"))
		}
		res304 := get(t, h, "GET", target, map[string]string{"Accept-Encoding": ae, "If-None-Match": res.Header.Get("ETag")})
		if res304.StatusCode != http.StatusNotModified {
			t.Errorf("gzip If-None-Match: %d", res304.StatusCode)
		}
	}
	for _, ae := range []string{"", "identity", "gzip;q=0", "br", "*;q=0", "*, gzip;q=0"} {
		if res := get(t, h, "GET", target, map[string]string{"Accept-Encoding": ae}); res.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: gzipped", ae)
		}
	}
}

func TestHeadAndMethods(t *testing.T) {
	dir, _ := goldenPublic(t)
	h := serve.Handler(localdir.Open(dir), serve.Options{})
	res := get(t, h, "HEAD", "/latest.json", nil)
	if res.StatusCode != 200 || len(body(t, res)) != 0 || res.Header.Get("ETag") == "" || res.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, headers %v", res.StatusCode, res.Header)
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		res := get(t, h, m, "/latest.json", nil)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

// TestOnlyThePublicLayout: nothing but latest.json, the documents under
// snapshots/<id>/ and the viewer is served; everything else is 404,
// including files that exist in PUBLIC_DIR.
func TestOnlyThePublicLayout(t *testing.T) {
	dir, id := goldenPublic(t)
	must(t, os.WriteFile(filepath.Join(dir, "secret.json"), []byte(`{}`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "snapshots", id, "notes.txt"), []byte(`x`), 0o644))
	h := serve.Handler(localdir.Open(dir), serve.Options{})
	for _, target := range []string{
		"/.refrecon.lock", "/secret.json", "/snapshots/", "/snapshots", "/snapshots/" + id, "/snapshots/" + id + "/",
		"/snapshots/" + id + "/referrers/", "/snapshots/" + id + "/cycles/cycle-1/leaderboard/",
		"/snapshots/" + id + "/notes.txt", "/snapshots/.tmp-" + id + "-x/cycles.json",
		"/snapshots/" + id + "/../../secret.json", "/snapshots/" + id + "/referrers/..%2F..%2F..%2Flatest.json",
		"/snapshots/" + id + "/referrers/%2E%2E.json", "/snapshots/" + id + "/cycles/cycle-1/leaderboard/0.json",
		"/snapshots/" + id + "/referrers/NOBODY.json", "/snapshots/20990101T000000Z-0123456789ab/cycles.json",
		"/index.html", "/viewer/", "/viewer/../latest.json", "/favicon.ico", "//latest.json",
	} {
		res := get(t, h, "GET", target, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, res.StatusCode)
		}
	}
}

func TestStoreErrors(t *testing.T) {
	h := serve.Handler(failingStore{}, serve.Options{Logf: func(string, ...any) {}})
	res := get(t, h, "GET", "/latest.json", nil)
	if res.StatusCode != http.StatusBadGateway || strings.Contains(string(body(t, res)), "unreachable") {
		t.Errorf("failing store: %d", res.StatusCode)
	}
	empty := serve.Handler(localdir.Open(t.TempDir()), serve.Options{})
	if res := get(t, empty, "GET", "/latest.json", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("nothing published: %d, want 404", res.StatusCode)
	}
}

func TestViewerAssets(t *testing.T) {
	h := serve.Handler(localdir.Open(t.TempDir()), serve.Options{})
	for target, ctype := range map[string]string{
		"/": "text/html; charset=utf-8", "/viewer/viewer.js": "text/javascript; charset=utf-8", "/viewer/viewer.css": "text/css; charset=utf-8",
	} {
		res := get(t, h, "GET", target, nil)
		b := body(t, res)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ctype || len(b) == 0 {
			t.Errorf("%s: %d %q", target, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", target, csp)
		}
		for _, outside := range []string{"http://", "https://", "//cdn"} {
			if target != "/" && bytes.Contains(b, []byte(outside)) {
				t.Errorf("%s refers to %s", target, outside)
			}
		}
	}
}

// TestServeShutsDownGracefully: a request in flight when the context ends
// (SIGTERM) completes, then Serve returns nil.
func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	started := make(chan struct{})
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve.Serve(ctx, ln, slow) }()
	got := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if b := <-got; b != "done" {
		t.Errorf("request in flight got %q", b)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting after shutdown")
	}
}

// TestDocumentCache: a snapshot document once served comes from memory
// (snapshot files never change), within the cache's bound; latest.json is
// always read from the store; with the cache off every request reads.
func TestDocumentCache(t *testing.T) {
	dir, id := goldenPublic(t)
	cycles := "/snapshots/" + id + "/cycles.json"
	for _, c := range []struct {
		name       string
		cacheBytes int
		cached     bool
	}{{"default", 0, true}, {"off", -1, false}, {"too small for the file", 64, false}} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			must(t, os.CopyFS(d, os.DirFS(dir)))
			h := serve.Handler(localdir.Open(d), serve.Options{CacheBytes: c.cacheBytes})
			first := body(t, get(t, h, "GET", cycles, nil))
			gz := get(t, h, "GET", cycles, map[string]string{"Accept-Encoding": "gzip"})
			must(t, os.Remove(filepath.Join(d, "snapshots", id, "cycles.json")))
			res := get(t, h, "GET", cycles, nil)
			if c.cached {
				if res.StatusCode != 200 || !bytes.Equal(body(t, res), first) {
					t.Errorf("cached document: %d", res.StatusCode)
				}
				if again := get(t, h, "GET", cycles, map[string]string{"Accept-Encoding": "gzip"}); !bytes.Equal(body(t, again), body(t, gz)) {
					t.Error("cached gzip form differs")
				}
			} else if res.StatusCode != http.StatusNotFound {
				t.Errorf("uncached document read from memory: %d", res.StatusCode)
			}
			_ = body(t, get(t, h, "GET", "/latest.json", nil))
			next := `{"snapshotId":"20990101T000000Z-0123456789ab","path":"snapshots/20990101T000000Z-0123456789ab/"}` + "\n"
			must(t, os.WriteFile(filepath.Join(d, "latest.json"), []byte(next), 0o644))
			if b := body(t, get(t, h, "GET", "/latest.json", nil)); string(b) != next {
				t.Errorf("latest.json not re-read: %q", b)
			}
		})
	}
	// Many documents through a small cache: every body still right.
	h := serve.Handler(localdir.Open(dir), serve.Options{CacheBytes: 4 << 10})
	var m manifest
	mb, _ := os.ReadFile(filepath.Join(dir, "snapshots", id, "manifest.json"))
	must(t, json.Unmarshal(mb, &m))
	for range 2 {
		for _, f := range m.Files {
			res := get(t, h, "GET", "/snapshots/"+id+"/"+f.Path, nil)
			if got := res.Header.Get("ETag"); res.StatusCode != 200 || got != `"`+f.SHA256+`"` {
				t.Fatalf("%s through a small cache: %d, ETag %s", f.Path, res.StatusCode, got)
			}
		}
	}
}
