package localdir_test

import (
	"testing"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/publictest"
)

func TestConformance(t *testing.T) {
	publictest.RunStorageTests(t, func(t *testing.T) public.Storage {
		return localdir.Open(t.TempDir())
	}, publictest.Options{})
}
