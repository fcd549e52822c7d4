package cycleurl

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// customSet is a valid set that differs from the built-in default.
const customSet = `[{"id": "custom-1", "displayName": "Custom", "rulesUrl": "https://example.com/custom/rules",
 "rules": {"awardModel": "rev-share-cap", "startTime": "2026-05-01T00:00:00Z", "endTime": "2026-05-31T23:59:59Z",
  "currency": "gbp", "awardPool": {"currency": "gbp", "amount": "250000"},
  "minQualifyingRevenue": {"currency": "gbp", "amount": "5000"}, "revenueShareBps": 2000,
  "eligiblePlans": ["price_team"], "holdDays": 14, "attributionDays": null, "minPaymentsToConvert": 1,
  "areAwardsDistributed": false, "adminActions": []}}]`

func checkCustom(t *testing.T, set pipeline.CycleSet, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(set.Cycles) != 1 || set.Cycles[0].ID != "custom-1" || set.Cycles[0].Rules.RevenueShareBps != 2000 ||
		set.Cycles[0].Rules.AwardPool != (pipeline.Money{Currency: "gbp", Amount: 250000}) {
		t.Fatalf("got %+v, want the custom set", set)
	}
}

func TestLoadHTTP(t *testing.T) {
	var gotAccept, gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAccept = r.Header.Get("Accept")
		gotUser, gotPass, _ = r.BasicAuth()
		if r.URL.Path != "/cycles.json" || r.URL.Query().Get("v") != "2" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(customSet))
	}))
	defer srv.Close()

	set, err := Load(context.Background(), srv.URL+"/cycles.json?v=2")
	checkCustom(t, set, err)
	if gotAccept != "application/json" {
		t.Errorf("Accept = %q", gotAccept)
	}

	// Credentials in the URL are sent as basic authentication.
	u := strings.Replace(srv.URL, "http://", "http://ops:s3cret@", 1)
	set, err = Load(context.Background(), u+"/cycles.json?v=2")
	checkCustom(t, set, err)
	if gotUser != "ops" || gotPass != "s3cret" {
		t.Errorf("basic auth = %q, %q; want ops, s3cret", gotUser, gotPass)
	}
}

func TestLoadHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing.json":
			http.NotFound(w, r)
		case "/broken.json":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/moved.json":
			w.WriteHeader(http.StatusNotModified)
		case "/page.html":
			_, _ = w.Write([]byte("<html>cycles</html>"))
		case "/invalid.json":
			_, _ = w.Write([]byte(strings.Replace(customSet, `"revenueShareBps": 2000`, `"revenueShareBps": 20000`, 1)))
		case "/big.json":
			_, _ = w.Write([]byte(customSet)) // Content-Length is set
		case "/big-chunked.json":
			w.(http.Flusher).Flush() // no Content-Length: the limit is found while reading
			_, _ = w.Write([]byte(customSet))
		}
	}))
	defer srv.Close()
	small := &Loader{MaxSize: 100}

	tests := []struct {
		name    string
		loader  *Loader
		path    string
		want    string // the whole message
		problem string // for an invalid document: the first problem
	}{
		{"404", nil, "/missing.json", "load cycle set from URL/missing.json: HTTP 404 Not Found", ""},
		{"500", nil, "/broken.json", "load cycle set from URL/broken.json: HTTP 500 Internal Server Error", ""},
		{"304", nil, "/moved.json", "load cycle set from URL/moved.json: HTTP 304 Not Modified", ""},
		{"not JSON", nil, "/page.html", "load cycle set from URL/page.html: invalid cycle set:\n" +
			"$: invalid JSON: invalid character '<' looking for beginning of value (byte offset 0)",
			"$: invalid JSON: invalid character '<' looking for beginning of value (byte offset 0)"},
		{"invalid set", nil, "/invalid.json", "load cycle set from URL/invalid.json: invalid cycle set:\n" +
			"[0].rules.revenueShareBps: must be an integer between 0 and 10000, got 20000",
			"[0].rules.revenueShareBps: must be an integer between 0 and 10000, got 20000"},
		{"too large", small, "/big.json", "load cycle set from URL/big.json: document is larger than the limit of 100 bytes", ""},
		{"too large, chunked", small, "/big-chunked.json", "load cycle set from URL/big-chunked.json: document is larger than the limit of 100 bytes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.loader
			if l == nil {
				l = &Loader{}
			}
			_, err := l.Load(context.Background(), srv.URL+tt.path)
			want := strings.ReplaceAll(tt.want, "URL", srv.URL)
			if err == nil || err.Error() != want {
				t.Fatalf("got error %v\nwant %s", err, want)
			}
			var cse *pipeline.CycleSetError
			if got := errors.As(err, &cse); got != (tt.problem != "") {
				t.Fatalf("errors.As(*pipeline.CycleSetError) = %v", got)
			}
			if cse != nil && cse.Problems[0].String() != tt.problem {
				t.Errorf("first problem %q, want %q", cse.Problems[0], tt.problem)
			}
		})
	}
}

// A server that sends nothing times out.
func TestLoadTimeout(t *testing.T) {
	checkTimesOut(t, "slow.json", nil)
}

// A body that stalls after the headers times out too.
func TestLoadTimeoutReadingBody(t *testing.T) {
	checkTimesOut(t, "stall.json", func(w http.ResponseWriter) {
		_, _ = w.Write([]byte("[{"))
		w.(http.Flusher).Flush()
	})
}

// checkTimesOut serves name with a handler that calls start (nil: nothing)
// and then hangs until the client gives up, and checks that a Load with a
// 20 ms timeout says it timed out.
func checkTimesOut(t *testing.T, name string, start func(w http.ResponseWriter)) {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if start != nil {
			start(w)
		}
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	l := &Loader{Timeout: 20 * time.Millisecond}
	_, err := l.Load(context.Background(), srv.URL+"/"+name)
	if want := "load cycle set from " + srv.URL + "/" + name + ": timed out after 20ms"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestLoadConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more

	raw := strings.Replace(addr, "http://", "http://ops:s3cret@", 1) + "/c.json?token=abc#frag"
	_, err := Load(context.Background(), raw)
	if err == nil {
		t.Fatal("Load succeeded against a closed server")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "load cycle set from "+addr+"/c.json: ") || !strings.Contains(msg, "connection refused") {
		t.Errorf("got %q", msg)
	}
	for _, secret := range []string{"ops", "s3cret", "token", "abc", "frag"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q reveals %q", msg, secret)
		}
	}
}

func TestLoadRedactsHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	raw := strings.Replace(srv.URL, "http://", "http://ops:s3cret@", 1) + "/c.json?token=abc#frag"
	_, err := Load(context.Background(), raw)
	if want := "load cycle set from " + srv.URL + "/c.json: HTTP 404 Not Found"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cycles.json")
	if err := os.WriteFile(path, []byte(customSet), 0o600); err != nil {
		t.Fatal(err)
	}
	// A named pipe nobody writes to: an ordinary open blocks forever.
	fifo := filepath.Join(dir, "pipe.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := Load(context.Background(), "file://"+path)
	checkCustom(t, set, err)
	set, err = Load(context.Background(), "file://localhost"+path)
	checkCustom(t, set, err)

	for _, tt := range []struct{ name, url, want string }{
		{"missing", "file://" + filepath.Join(dir, "nope.json"),
			"load cycle set from file://" + filepath.Join(dir, "nope.json") + ": stat " + filepath.Join(dir, "nope.json") + ": no such file or directory"},
		{"directory", "file://" + dir, "load cycle set from file://" + dir + ": " + dir + ": not a regular file: it is a directory"},
		{"fifo", "file://" + fifo, "load cycle set from file://" + fifo + ": " + fifo + ": not a regular file: it is a named pipe (FIFO)"},
		{"device", "file:///dev/zero", "load cycle set from file:///dev/zero: /dev/zero: not a regular file: it is a character device"},
		{"remote host", "file://fileserver" + path, `load cycle set from file://fileserver` + path +
			`: file URL names host "fileserver"; only local files (file:///path) can be read`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.url)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}

	big := &Loader{MaxSize: 10}
	if _, err := big.Load(context.Background(), "file://"+path); err == nil || !strings.HasSuffix(err.Error(), "document is larger than the limit of 10 bytes") {
		t.Errorf("too large file: got %v", err)
	}
}

func TestLoadRejectsURL(t *testing.T) {
	for _, raw := range []string{
		"",
		"cycles.json",
		"/etc/refrecon/cycles.json",
		"./cycles.json",
		"ftp://example.com/cycles.json",
		"s3://bucket/cycles.json",
		"file:cycles.json",
		"file:relative/cycles.json",
		"http://",
		"https:///cycles.json",
		"https:example.com/cycles.json",
		"https://ops:s3 cret@example.com/cycles.json",
		"https://example.com:port/cycles.json",
		" https://example.com/cycles.json",
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := Load(context.Background(), raw)
			if err == nil || !strings.HasSuffix(err.Error(), ": not an absolute http://, https:// or file:// URL") {
				t.Fatalf("got %v", err)
			}
			if strings.Contains(err.Error(), "s3 cret") {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}
