package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/bucket"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sources/redact"
)

// publicTarget is PUBLIC_DIR parsed (SPEC 3.1): a directory path or
// file:///path (the tuned local driver, sinks/public/localdir: faster than
// fileblob, docs/performance.md), or a gs:// or s3:// bucket URL
// (sinks/public/bucket).
type publicTarget struct {
	dir string // a local directory, or ""
	url string // a bucket URL, or ""
}

// parsePublicDir checks PUBLIC_DIR without touching it: a configuration
// error for what is no path and no bucket URL.
func parsePublicDir(s string) (publicTarget, error) {
	if strings.TrimSpace(s) == "" {
		return publicTarget{}, fmt.Errorf("PUBLIC_DIR is empty")
	}
	if !strings.Contains(s, "://") {
		return publicTarget{dir: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return publicTarget{}, fmt.Errorf("PUBLIC_DIR: not a URL: %v", strings.ReplaceAll(err.Error(), s, "(the value)"))
	}
	name := redact.URL(s)
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || u.Path == "" || u.RawQuery != "" {
			return publicTarget{}, fmt.Errorf("PUBLIC_DIR %s: want file:///absolute/path", name)
		}
		return publicTarget{dir: u.Path}, nil
	case "gs", "s3":
		if u.Host == "" {
			return publicTarget{}, fmt.Errorf("PUBLIC_DIR %s: no bucket name", name)
		}
		return publicTarget{url: s}, nil
	}
	return publicTarget{}, fmt.Errorf("PUBLIC_DIR %s: scheme %q: want a directory path, file://, gs:// or s3://", name, u.Scheme)
}

// open opens the store: a directory at once; a bucket is reached (a
// missing or unreachable one is an error, exit 1). close releases it.
func (pt publicTarget) open(ctx context.Context, cfg *config) (store public.Storage, close func(), err error) {
	if pt.url == "" {
		return localdir.Open(pt.dir), func() {}, nil
	}
	b, err := bucket.Open(ctx, pt.url, bucket.Options{
		Concurrency: cfg.PublicConcurrency, LatestCacheControl: cfg.LatestCacheControl, Copy: cfg.PublicServerCopy,
	})
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = b.Close() }, nil
}

// openPublicDir parses PUBLIC_DIR (a bad value is a configuration error)
// and opens its store, as serve, diff and explain read it. close releases
// it.
func openPublicDir(ctx context.Context, cfg *config) (store public.Storage, close func(), err error) {
	pt, err := parsePublicDir(cfg.PublicDir)
	if err != nil {
		return nil, nil, asConfigError(err)
	}
	return pt.open(ctx, cfg)
}
