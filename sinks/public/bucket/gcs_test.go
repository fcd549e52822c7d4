package bucket_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/publictest"
)

// startGCS runs fake-gcs-server v1.56.1 in the test (HTTP on 127.0.0.1)
// with one bucket; the real gcsblob client reaches it through
// STORAGE_EMULATOR_HOST. PublicHost must be the server's own address: the
// client downloads from http://HOST/BUCKET/OBJECT, which the fake serves
// only on its public host.
func startGCS(t *testing.T, bucket string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	host := fmt.Sprintf("127.0.0.1:%d", port)
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: host,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	t.Setenv("STORAGE_EMULATOR_HOST", host)
}

func TestConformanceGCS(t *testing.T) {
	startGCS(t, "pub")
	n := 0
	publictest.RunStorageTests(t, func(t *testing.T) public.Storage {
		n++
		return open(t, fmt.Sprintf("gs://pub/run%d", n))
	}, publictest.Options{ConditionalLatest: true})
}
