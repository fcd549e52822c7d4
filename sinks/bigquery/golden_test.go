package bigquery_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/warehouse"
)

var update = flag.Bool("update", false, "rewrite deploy/bigquery/*.json from the Go row types")

const deployDir = "../../deploy/bigquery"

// TestGoldenSchemas fails when deploy/bigquery/<table>.json differs from the
// schema inferred from sinks/warehouse's row types. After a reviewed change
// of the row types: go test ./sinks/bigquery -run Golden -update
func TestGoldenSchemas(t *testing.T) {
	if *update {
		if err := bigquery.WriteSchemaFiles(deployDir); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for _, tb := range warehouse.Tables() {
		want = append(want, tb.Name+".json")
		got, err := bigquery.SchemaJSON(tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(filepath.Join(deployDir, tb.Name+".json"))
		if err != nil {
			t.Errorf("%v (run: go test ./sinks/bigquery -run Golden -update)", err)
			continue
		}
		if !bytes.Equal(file, got) {
			t.Errorf("deploy/bigquery/%s.json differs from the row type %T; after review run: go test ./sinks/bigquery -run Golden -update\nwant:\n%s", tb.Name, tb.Row, got)
		}
	}
	// No schema file for a table that no longer exists.
	files, err := filepath.Glob(filepath.Join(deployDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, f := range files {
		have = append(have, filepath.Base(f))
	}
	sort.Strings(want)
	for _, h := range have {
		if i := sort.SearchStrings(want, h); i == len(want) || want[i] != h {
			t.Errorf("deploy/bigquery/%s matches no warehouse table; remove it", h)
		}
	}
}
