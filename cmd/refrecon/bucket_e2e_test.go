package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sinks/public/bucket"
	"github.com/refrecon/refrecon/sinks/public/bucket/s3fake"
)

// PUBLIC_DIR=s3://... publishes the fixture run, and the next night's, to
// the S3 fake (the real s3blob client) with the same keys and bytes as a
// directory, and the SPEC's headers on every object.
func TestE2EPublishToS3MatchesDirectory(t *testing.T) {
	srv := s3fake.Start(t, "site")
	url := srv.URL("site", "public")
	dir, bkt := newDirs(t), newDirs(t)
	for _, asOf := range []string{fixtureAsOf, "2026-04-16T00:00:00Z"} {
		mustRun(t, dir.env(asOf))
		mustRun(t, bkt.env(asOf, "PUBLIC_DIR", url))
	}
	want := readTree(t, dir.Public)

	st, err := bucket.Open(t.Context(), url, bucket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string][]byte{}
	it := st.Bucket().List(nil)
	for {
		o, err := it.Next(t.Context())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if o.Key == bucket.LockKey {
			t.Errorf("the lock object is left after the run")
			continue
		}
		b, err := st.Bucket().ReadAll(t.Context(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		got[o.Key] = b
		a, err := st.Bucket().Attributes(t.Context(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		cc := bucket.SnapshotCacheControl
		if o.Key == "latest.json" {
			cc = bucket.DefaultLatestCacheControl
		}
		if a.ContentType != "application/json" || a.CacheControl != cc {
			t.Errorf("%s: Content-Type %q, Cache-Control %q", o.Key, a.ContentType, a.CacheControl)
		}
	}
	if len(got) != len(want) || len(want) < 10 {
		t.Errorf("%d objects in the bucket, %d files in the directory", len(got), len(want))
	}
	for k, b := range want {
		if !bytes.Equal(got[k], b) {
			t.Errorf("%s: bucket and directory differ", k)
		}
	}
}

// A missing bucket fails the run (exit 1, not a configuration error), and
// a PUBLIC_DIR that is no path and no bucket URL is a configuration error.
func TestE2EPublicDirURLErrors(t *testing.T) {
	srv := s3fake.Start(t, "site")
	d := newDirs(t)
	_, err := runEnv(t, d.env(fixtureAsOf, "PUBLIC_DIR", srv.URL("no-such-bucket", "p")))
	if err == nil || exitStatus(err, io.Discard) != exitFailed {
		t.Errorf("missing bucket: %v (exit %d), want exit %d", err, exitStatus(err, io.Discard), exitFailed)
	}
	for _, v := range []string{"ftp://host/x", "s3:///nobucket", "file://host/x"} {
		_, err := runEnv(t, d.env(fixtureAsOf, "PUBLIC_DIR", v))
		if err == nil || exitStatus(err, io.Discard) != exitConfig || !strings.Contains(err.Error(), "PUBLIC_DIR") {
			t.Errorf("PUBLIC_DIR=%s: %v, want a configuration error naming PUBLIC_DIR", v, err)
		}
	}
}
