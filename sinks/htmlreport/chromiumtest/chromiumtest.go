// Package chromiumtest starts Debian's chromium headless for the browser
// tests (the HTML report here, the viewer of refrecon serve): the one place
// that finds the browser and knows the flags this machine needs.
//
// Without a browser a test skips, except in CI (CI=true), where it fails:
// .ci/run installs chromium, so a missing one is a broken CI machine.
package chromiumtest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: $CHROMIUM, or Debian's chromium.
func Path(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found (CI=true: the browser test must run; install Debian's chromium or set CHROMIUM)")
	}
	t.Skip("chromium not found; set CHROMIUM or install Debian's chromium")
	return ""
}

// Allocator starts headless chromium under ctx with a fresh profile and
// without the background connections this closed network refuses; extra
// options (a window size) come last.
func Allocator(t testing.TB, ctx context.Context, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
	}, extra...)
	return chromedp.NewExecAllocator(ctx, opts...)
}
