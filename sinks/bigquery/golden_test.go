package bigquery_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
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
	for _, tb := range warehouse.AllTables() {
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

// TestDeployDocsMatchTables checks the hand-written parts of deploy/bigquery
// against the driver: the README's bq mk lines create the tables the driver
// creates, and views.sql reads only tables and views that exist.
func TestDeployDocsMatchTables(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(deployDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range warehouse.AllTables() {
		md, err := bigquery.TableMetadata(tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		line := "bq mk --table --time_partitioning_field " + md.TimePartitioning.Field + " --time_partitioning_type DAY "
		if md.Clustering != nil {
			line += "--clustering_fields " + strings.Join(md.Clustering.Fields, ",") + " "
		}
		line += "PROJECT:DATASET." + tb.Name + " deploy/bigquery/" + tb.Name + ".json\n"
		if !strings.Contains(string(readme), line) {
			t.Errorf("deploy/bigquery/README.md lacks the line:\n%s", line)
		}
	}

	views, err := os.ReadFile(filepath.Join(deployDir, "views.sql"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, tb := range warehouse.AllTables() {
		known[tb.Name] = true
	}
	for _, m := range regexp.MustCompile("CREATE OR REPLACE VIEW `\\$\\{PROJECT\\}\\.\\$\\{DATASET\\}\\.(\\w+)`").FindAllStringSubmatch(string(views), -1) {
		known[m[1]] = true
	}
	refs := regexp.MustCompile("`([^`]*)`").FindAllStringSubmatch(string(views), -1)
	if len(refs) == 0 {
		t.Fatal("views.sql references no table")
	}
	for _, m := range refs {
		name, ok := strings.CutPrefix(m[1], "${PROJECT}.${DATASET}.")
		if !ok || !known[name] {
			t.Errorf("views.sql references %q: want `${PROJECT}.${DATASET}.<table or view defined in the file>`", m[1])
		}
	}
	for _, v := range []string{"latest_run", "latest_leaderboard_entries", "award_totals_by_cycle"} {
		if !known[v] {
			t.Errorf("views.sql does not define %s", v)
		}
	}
}
