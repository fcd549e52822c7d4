package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The anchor's CSV inputs are the referrals database's tables as the
// sqlite3 CLI writes them (`-header -csv`): a header, NULL as an empty
// field, DATETIME values as their text, fields with commas or quotes
// quoted.
func TestExportTablesWritesCSVLikeTheSQLiteCLI(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "referrals.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT UNIQUE)`,
		`CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT, referred_at DATETIME, selected_plan TEXT, rewarded BOOLEAN)`,
		`INSERT INTO users VALUES ('a@example.com', 'REF-1'), ('b@example.com', NULL)`,
		`INSERT INTO referrals VALUES ('c@example.com', 'REF-1', '2026-01-02 14:54:53', NULL, NULL),
		                              ('d@example.com', 'a,"b"', '2026-01-03 00:00:00', 'pro', 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := exportTables(context.Background(), path, dir, "users", "referrals"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"users.csv":     "email,refcode\na@example.com,REF-1\nb@example.com,\n",
		"referrals.csv": "email,refcode,referred_at,selected_plan,rewarded\nc@example.com,REF-1,2026-01-02 14:54:53,,\nd@example.com,\"a,\"\"b\"\"\",2026-01-03 00:00:00,pro,0\n",
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
		}
	}
	if err := exportTables(context.Background(), path, dir, "missing"); err == nil {
		t.Error("exporting a missing table did not fail")
	}
}

func TestParseLogsReadsStagesAndOutputs(t *testing.T) {
	log := strings.Join([]string{
		`{"stage":"read","rows":10,"seconds":1.5,"peak_rss_bytes":100}`,
		`{"stage":"compute","rows":4,"seconds":0.5,"peak_rss_bytes":200}`,
		`{"stage":"diff","previous":true,"seconds":0.25}`,
		`{"stage":"private","output":"workbook","seconds":2}`,
		`{"stage":"private","output":"csv","seconds":1}`,
		`{"stage":"private","rows":7,"seconds":3,"peak_rss_bytes":300}`,
		`{"stage":"publish","rows":8,"seconds":3.5,"peak_rss_bytes":300}`,
		`not json`,
		`{"event":"run_finished","status":"ok","seconds":6,"counts":{"referrals":4}}`,
	}, "\n")
	r, err := parseLogs([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range r.stages {
		got = append(got, st.name)
	}
	if strings.Join(got, " ") != "read compute private publish total" {
		t.Errorf("stages %q", got)
	}
	if p := r.stages[2]; p.seconds != 3 || p.rows != 7 {
		t.Errorf("private stage = %+v, want the stage line's, not an output's", p)
	}
	if tot := r.stages[4]; tot.seconds != 6 || tot.rows != 4 {
		t.Errorf("total = %+v", tot)
	}
	var outs []string
	for _, st := range r.outputs {
		outs = append(outs, st.name)
	}
	if strings.Join(outs, " ") != "diff csv workbook" {
		t.Errorf("outputs %q, want in the table's order", outs)
	}
	if _, err := parseLogs([]byte(`{"event":"run_finished","status":"failed"}`)); err == nil {
		t.Error("a failed run parsed")
	}
}

func TestPrintComparisonRatiosArePairwise(t *testing.T) {
	c := comparison{n: 1000, version: "x",
		cold:   []processResult{{wall: 3, peakRSS: 1 << 20}, {wall: 10, peakRSS: 3 << 20}, {wall: 4, peakRSS: 2 << 20}},
		anchor: []processResult{{wall: 2, rows: 5}, {wall: 10, rows: 5}, {wall: 1, rows: 5}},
	}
	var b bytes.Buffer
	printComparison(&b, c)
	out := b.String()
	// Pairs: 3/2 = 1.5, 10/10 = 1, 4/1 = 4; their median is 1.5 (the
	// ratio of the medians, 4/2, would be 2).
	for _, want := range []string{`refrecon run, cold +4\.00 +3\.00 10\.00 4\.00 +2 +1\.50 +1\.50 1\.00 4\.00`,
		`DuckDB anchor +2\.00 `, `\(5 result rows`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
}

// --warehouse=none runs refrecon without its warehouse and says so where
// the figures are read: the comparison's footer and the results file.
func TestWarehouseNoneIsSaidWhereTheFiguresAre(t *testing.T) {
	out := "/o"
	if got := warehouseEnv(options{}, out); got != "sqlite:/o/warehouse.sqlite" {
		t.Errorf("default WAREHOUSE = %q", got)
	}
	if got := warehouseEnv(options{noWarehouse: true}, out); got != "none" {
		t.Errorf("--warehouse=none: WAREHOUSE = %q", got)
	}
	c := comparison{n: 1, version: "x", cold: []processResult{{wall: 1}}, anchor: []processResult{{wall: 1, rows: 1}}}
	for _, none := range []bool{false, true} {
		c.noWarehouse = none
		var b bytes.Buffer
		printComparison(&b, c)
		if got := strings.Contains(b.String(), "but the warehouse (WAREHOUSE=none)"); got != none {
			t.Errorf("noWarehouse %v: footer says so %v:\n%s", none, got, b.String())
		}
		b.Reset()
		writeHeader(&b, none)
		if got := strings.Contains(b.String(), "\nwarehouse: none\n"); got != none {
			t.Errorf("noWarehouse %v: results header says so %v:\n%s", none, got, b.String())
		}
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"--warehouse", "bigquery"}, &bytes.Buffer{}, &stderr); err == nil || !strings.Contains(err.Error(), "neither sqlite nor none") {
		t.Errorf("--warehouse bigquery: %v", err)
	}
}

func TestAnchorMissingSaysWhy(t *testing.T) {
	dir := t.TempDir()
	if why := anchorMissing(dir); why == "" {
		t.Fatal("an empty directory is an installed anchor")
	}
	if !strings.Contains(anchorInstall(dir), "npm install @duckdb/node-api") {
		t.Error("the install hint lacks the npm line")
	}
}

// The results file is Go benchmark format for benchstat: one line per
// process, per stage and per private output, the next night's runs under
// night=2.
func TestResultLinesAreBenchmarkFormat(t *testing.T) {
	r := runResult{
		stages:  []stageResult{{name: "read", seconds: 2, rows: 1000, peakRSS: 4096}},
		outputs: []stageResult{{name: "csv", seconds: 0.5}},
		process: processResult{wall: 3.25, peakRSS: 8192},
	}
	var b bytes.Buffer
	writeProcessResult(&b, 100, "refrecon-cold", r.process)
	writeStageResults(&b, 100, "", r)
	writeStageResults(&b, 100, "night=2/", r)
	want := `BenchmarkProcess/referrals=100/proc=refrecon-cold 1 3250000000 ns/op 8192 peak-rss-bytes
BenchmarkRun/referrals=100/stage=read 1 2000000000 ns/op 500 rows/s 4096 peak-rss-bytes
BenchmarkRun/referrals=100/stage=private/output=csv 1 500000000 ns/op
BenchmarkRun/referrals=100/night=2/stage=read 1 2000000000 ns/op 500 rows/s 4096 peak-rss-bytes
BenchmarkRun/referrals=100/night=2/stage=private/output=csv 1 500000000 ns/op
`
	if b.String() != want {
		t.Errorf("result lines:\n%s\nwant:\n%s", b.String(), want)
	}
}
