package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/refrecon/refrecon/cmd/internal/serve"
	"github.com/sethvargo/go-envconfig"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "serve PUBLIC_DIR read-only over HTTP, with a viewer of the latest snapshot at /",
		run:     withOSEnv(serveCommand),
	})
}

const serveUsage = `Usage: refrecon serve [--addr :8080]

Serves PUBLIC_DIR read-only over HTTP: latest.json and the documents under
snapshots/<id>/ with the headers of SPEC 3.1 (Content-Type
application/json; snapshot files Cache-Control public, max-age=31536000,
immutable; latest.json LATEST_CACHE_CONTROL), a strong ETag (the file's
sha256, as the manifest lists it) with If-None-Match, and gzip when the
client asks. Nothing else: no directory listings, no lock file, 404
outside the public layout.

At / it serves a viewer of the latest snapshot: the cycles with their
status and pool, each leaderboard page by page, and a refcode lookup. It
loads nothing from anywhere but this server.

Stops gracefully on SIGTERM or Ctrl-C (requests in flight finish) and
exits 0.

Flags:
  --addr ADDR   listen address, host:port (default :8080; 127.0.0.1:8080
                to serve this machine only)
`

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer, env envconfig.Lookuper) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "listen address")
	if done, err := parseFlags(fs, args, 0, serveUsage, stdout, stderr); done {
		return err
	}
	cfg, log, err := loadEnv(ctx, env, stderr)
	if err != nil {
		return err
	}
	// The same store the run publishes to, read-only here.
	store, closeStore, err := openPublicDir(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Fprintf(stdout, "refrecon serve: %s at %s (stop with Ctrl-C)\n", cfg.PublicDir, displayURL(ln.Addr()))
	h := serve.Handler(store, serve.Options{
		LatestCacheControl: cfg.LatestCacheControl,
		Logf:               func(format string, args ...any) { log.Error().Msgf(format, args...) },
	})
	if err := serve.Serve(ctx, ln, h); err != nil {
		return err
	}
	log.Info().Str("event", "serve_stopped").Msg("serve stopped")
	return nil
}

// displayURL is the address to open in a browser: a wildcard listen
// address is shown as localhost.
func displayURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
