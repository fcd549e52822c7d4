package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestServeCommandUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if err := serveCommand(t.Context(), []string{"--help"}, &out, &errb, envconfig.MapLookuper(nil)); err != nil || !strings.Contains(out.String(), "--addr") {
		t.Errorf("--help: %v, %q", err, out.String())
	}
	for _, args := range [][]string{{"--port", "1"}, {"extra"}} {
		if err := serveCommand(t.Context(), args, &out, &errb, envconfig.MapLookuper(nil)); err != errUsage {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestServeCommandAddressInUse: a listen address that cannot be had is a
// failure (exit 1) that names it.
func TestServeCommandAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	var out, errb bytes.Buffer
	err = serveCommand(t.Context(), []string{"--addr", ln.Addr().String()}, &out, &errb, envconfig.MapLookuper(map[string]string{"PUBLIC_DIR": t.TempDir()}))
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("address in use: %v", err)
	}
}

// TestServeCommandLatestCacheControl: latest.json gets
// LATEST_CACHE_CONTROL, by default "public, max-age=60" (a default with a
// comma, which go-envconfig keeps whole).
func TestServeCommandLatestCacheControl(t *testing.T) {
	for _, c := range []struct{ env, want string }{{"", "public, max-age=60"}, {"no-cache", "no-cache"}} {
		d := newDirs(t)
		env := d.env(fixtureAsOf, "WAREHOUSE", "none", "LATEST_CACHE_CONTROL", c.env)
		mustRun(t, env)
		base := startServe(t, env)
		res, err := http.Get(base + "latest.json")
		must(t, err)
		res.Body.Close()
		if got := res.Header.Get("Cache-Control"); res.StatusCode != 200 || got != c.want {
			t.Errorf("LATEST_CACHE_CONTROL=%q: %d, Cache-Control %q, want %q", c.env, res.StatusCode, got, c.want)
		}
	}
}

func TestDisplayURL(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:8080": "http://localhost:8080/", "0.0.0.0:80": "http://localhost:80/", "127.0.0.1:9": "http://127.0.0.1:9/", "[::1]:9": "http://[::1]:9/",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		must(t, err)
		if got := displayURL(a); got != want {
			t.Errorf("displayURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

// TestServeExitsZeroOnSIGTERM: the real binary, sent SIGTERM while
// serving, stops and exits 0 (SPEC 4).
func TestServeExitsZeroOnSIGTERM(t *testing.T) {
	bin, _ := buildBinary(t, "builds the binary")
	d := newDirs(t)
	env := d.env(fixtureAsOf, "WAREHOUSE", "none")
	mustRun(t, env)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PUBLIC_DIR=" + d.Public}
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("no address printed: %v; stderr %s", err, stderr.String())
	}
	url := strings.Fields(line[strings.Index(line, "http://"):])[0]
	res, err := http.Get(url + "latest.json")
	must(t, err)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("latest.json: %d", res.StatusCode)
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0; stderr %s", err, stderr.String())
	}
}
