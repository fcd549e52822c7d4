package schema_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/refrecon/refrecon/sinks/public/schema"
)

// repoRoot is the module root (the directory holding go.mod).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// goldenTrees finds every published tree checked into the repository's
// testdata (a directory holding latest.json), wherever the packages that
// own them live.
func goldenTrees(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	var trees []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "out" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.Name() == "latest.json" && strings.Contains(p, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
			trees = append(trees, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(trees) < 2 {
		t.Fatalf("found %d published golden trees under testdata, want the default and custom ones at least", len(trees))
	}
	return trees
}

// TestGoldenTreesValidate: every file of every published golden tree (the
// default fixture run and the custom cycle set with both award models and
// both scoreBy) matches its schema.
func TestGoldenTreesValidate(t *testing.T) {
	for _, dir := range goldenTrees(t) {
		t.Run(filepath.Base(filepath.Dir(dir)), func(t *testing.T) {
			if err := schema.ValidateSnapshot(os.DirFS(dir)); err != nil {
				t.Error(err)
			}
		})
	}
}

// goldenDoc reads one document of the custom golden tree, which has both
// award models and both scoreBy.
func goldenDoc(t *testing.T, kind schema.Kind) map[string]any {
	t.Helper()
	var dir string
	for _, d := range goldenTrees(t) {
		if strings.Contains(d, "custom") {
			dir = d
		}
	}
	if dir == "" {
		t.Fatal("no custom golden tree")
	}
	fsys := os.DirFS(dir)
	var rel string
	switch kind {
	case schema.Latest:
		rel = "latest.json"
	default:
		var latest struct{ Path string }
		readJSON(t, fsys, "latest.json", &latest)
		snap := strings.TrimSuffix(latest.Path, "/")
		switch kind {
		case schema.Manifest:
			rel = snap + "/manifest.json"
		case schema.Cycles:
			rel = snap + "/cycles.json"
		case schema.Leaderboard:
			rel = snap + "/cycles/jan-2026-revenue/leaderboard/1.json" // pie-split by revenue, an admin action
		case schema.Referrer:
			rel = snap + "/referrers/GINA.json"
		}
	}
	var doc map[string]any
	readJSON(t, fsys, rel, &doc)
	return doc
}

func readJSON(t *testing.T, fsys fs.FS, rel string, v any) {
	t.Helper()
	b, err := fs.ReadFile(fsys, rel)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// at walks a decoded document by keys and indexes ("entries", 0, "award").
func at(doc any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			doc = doc.(map[string]any)[k]
		case int:
			doc = doc.([]any)[k]
		}
	}
	return doc
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStrict: each change a reader could trip over is rejected, with the
// JSON pointer of the offending value in the message; the unchanged
// documents are accepted (so a rejection is the change's doing).
func TestStrict(t *testing.T) {
	cases := []struct {
		name    string
		kind    schema.Kind
		mutate  func(d map[string]any)
		pointer string // expected in the error (the JSON pointer, or the message)
	}{
		{"amount as a number", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0, "award").(map[string]any)["amount"] = 100
		}, "/entries/0/award/amount"},
		{"amount with a leading zero", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0, "award").(map[string]any)["amount"] = "0100"
		}, "/entries/0/award/amount"},
		{"negative amount", schema.Cycles, func(d map[string]any) {
			at(d, "cycles", 0, "totals", "revenue").(map[string]any)["amount"] = "-1"
		}, "/cycles/0/totals/revenue/amount"},
		{"decimal amount", schema.Cycles, func(d map[string]any) {
			at(d, "cycles", 0, "awardPoolRemaining").(map[string]any)["amount"] = "12.50"
		}, "/cycles/0/awardPoolRemaining/amount"},
		{"upper case currency", schema.Referrer, func(d map[string]any) {
			at(d, "cycles", "jan-2026-revenue", "award").(map[string]any)["currency"] = "USD"
		}, "/cycles/jan-2026-revenue/award/currency"},
		{"extra money field", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0, "revenue").(map[string]any)["decimal"] = "2970.00"
		}, "/entries/0/revenue"},
		{"unknown status", schema.Leaderboard, func(d map[string]any) { d["status"] = "Open" }, "/status"},
		{"unknown award model", schema.Cycles, func(d map[string]any) {
			at(d, "cycles", 0, "rules").(map[string]any)["awardModel"] = "winner-takes-all"
		}, "/cycles/0/rules"},
		{"pie-split rules without scoreBy", schema.Cycles, func(d map[string]any) {
			for _, c := range d["cycles"].([]any) {
				r := c.(map[string]any)["rules"].(map[string]any)
				if r["awardModel"] == "pie-split" {
					delete(r, "scoreBy")
					return
				}
			}
			t.Fatal("no pie-split cycle")
		}, "/cycles/"},
		{"unknown field in an entry", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0).(map[string]any)["email"] = "x@example.com"
		}, "/entries/0"},
		{"missing field in an entry", schema.Leaderboard, func(d map[string]any) {
			delete(at(d, "entries", 0).(map[string]any), "award")
		}, "/entries/0"},
		{"rank 0", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0).(map[string]any)["rank"] = 0
		}, "/entries/0/rank"},
		{"null rank on a leaderboard", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0).(map[string]any)["rank"] = nil
		}, "/entries/0/rank"},
		{"boost above 1", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0).(map[string]any)["finalScoreBoost"] = 1.5
		}, "/entries/0/finalScoreBoost"},
		{"unknown admin action", schema.Leaderboard, func(d map[string]any) {
			at(d, "entries", 0, "adminAction").(map[string]any)["actionType"] = "Ban"
		}, "/entries/0/adminAction"},
		{"page 0", schema.Leaderboard, func(d map[string]any) {
			at(d, "pageContext").(map[string]any)["page"] = 0
		}, "/pageContext/page"},
		{"ranked with a null rank", schema.Referrer, func(d map[string]any) {
			at(d, "cycles", "jan-2026-revenue").(map[string]any)["rank"] = nil
		}, "/cycles/jan-2026-revenue/rank"},
		{"unranked with a rank", schema.Referrer, func(d map[string]any) {
			at(d, "cycles", "summer-2026-eur").(map[string]any)["rank"] = 3
		}, "/cycles/summer-2026-eur/rank"},
		{"unknown referrer cycle type", schema.Referrer, func(d map[string]any) {
			at(d, "cycles", "summer-2026-eur").(map[string]any)["type"] = "hidden"
		}, "/cycles/summer-2026-eur/type"},
		{"cycle key not a cycle id", schema.Referrer, func(d map[string]any) {
			cs := d["cycles"].(map[string]any)
			cs["Summer 2026"] = cs["summer-2026-eur"]
		}, "'Summer 2026' does not match pattern"},
		{"time not in UTC", schema.Cycles, func(d map[string]any) { d["asOf"] = "2026-04-15T02:00:00+02:00" }, "/asOf"},
		{"not a time", schema.Cycles, func(d map[string]any) { d["asOf"] = "2026-13-45T00:00:00Z" }, "/asOf"},
		{"relative rules URL", schema.Cycles, func(d map[string]any) {
			at(d, "cycles", 0).(map[string]any)["rulesUrl"] = "/rules"
		}, "/cycles/0/rulesUrl"},
		{"bad snapshot id", schema.Latest, func(d map[string]any) { d["snapshotId"] = "latest" }, "/snapshotId"},
		{"latest path outside snapshots", schema.Latest, func(d map[string]any) { d["path"] = "../etc/" }, "/path"},
		{"manifest file outside the layout", schema.Manifest, func(d map[string]any) {
			at(d, "files", 0).(map[string]any)["path"] = "../../latest.json"
		}, "/files/0/path"},
		{"manifest count negative", schema.Manifest, func(d map[string]any) {
			at(d, "inputs", "counts").(map[string]any)["users"] = -1
		}, "/inputs/counts/users"},
		{"manifest without files", schema.Manifest, func(d map[string]any) { delete(d, "files") }, "/"},
	}
	for _, k := range schema.Kinds {
		if err := schema.Validate(k, mustJSON(t, goldenDoc(t, k))); err != nil {
			t.Fatalf("unchanged %s: %v", k, err)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := goldenDoc(t, c.kind)
			c.mutate(d)
			err := schema.Validate(c.kind, mustJSON(t, d))
			if err == nil {
				t.Fatalf("accepted")
			}
			if !strings.Contains(err.Error(), c.pointer) {
				t.Errorf("error does not name %s: %v", c.pointer, err)
			}
		})
	}
}

// TestSettledFromIsOptional: a settled cycle's summary and pages carry
// settledFrom (SPEC 2.8), a snapshot id.
func TestSettledFromIsOptional(t *testing.T) {
	page := goldenDoc(t, schema.Leaderboard)
	page["settledFrom"] = "20260301T000000Z-0123456789ab"
	if err := schema.Validate(schema.Leaderboard, mustJSON(t, page)); err != nil {
		t.Error(err)
	}
	page["settledFrom"] = "yesterday"
	if err := schema.Validate(schema.Leaderboard, mustJSON(t, page)); err == nil {
		t.Error("settledFrom that is no snapshot id accepted")
	}
	cycles := goldenDoc(t, schema.Cycles)
	at(cycles, "cycles", 0).(map[string]any)["settledFrom"] = "20260301T000000Z-0123456789ab"
	if err := schema.Validate(schema.Cycles, mustJSON(t, cycles)); err != nil {
		t.Error(err)
	}
}

func TestValidateSnapshotFindsProblems(t *testing.T) {
	const id = "20260415T000000Z-0123456789ab"
	good := func() fstest.MapFS {
		fsys := fstest.MapFS{}
		for _, dir := range goldenTrees(t) {
			if !strings.Contains(dir, "default") {
				continue
			}
			src := os.DirFS(dir)
			err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := fs.ReadFile(src, p)
				fsys[p] = &fstest.MapFile{Data: b}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return fsys
	}
	if err := schema.ValidateSnapshot(good()); err != nil {
		t.Fatalf("default golden tree: %v", err)
	}
	cases := []struct {
		name   string
		change func(fsys fstest.MapFS)
		want   string
	}{
		{"latest names a missing snapshot", func(fsys fstest.MapFS) {
			fsys["latest.json"] = &fstest.MapFile{Data: []byte(`{"snapshotId":"` + id + `","path":"snapshots/` + id + `/"}`)}
		}, "has no manifest.json"},
		{"latest path and id disagree", func(fsys fstest.MapFS) {
			fsys["latest.json"] = &fstest.MapFile{Data: []byte(`{"snapshotId":"` + id + `","path":"snapshots/20990101T000000Z-0123456789ab/"}`)}
		}, "is not the snapshot's directory"},
		{"stray file in a snapshot", func(fsys fstest.MapFS) {
			for p := range fsys {
				if strings.HasSuffix(p, "/cycles.json") {
					fsys[strings.TrimSuffix(p, "cycles.json")+"secrets.txt"] = &fstest.MapFile{Data: []byte("x")}
				}
			}
		}, "secrets.txt: not a file of the public layout"},
		{"bad document", func(fsys fstest.MapFS) {
			for p, f := range fsys {
				if strings.HasSuffix(p, "/cycles.json") {
					f.Data = []byte(strings.Replace(string(f.Data), `"status":"AwardsReview"`, `"status":"Done"`, 1))
				}
			}
		}, "cycles.json: does not match cycles.schema.json"},
		{"not JSON", func(fsys fstest.MapFS) {
			for p, f := range fsys {
				if strings.HasSuffix(p, "/referrers/ALICE2025.json") {
					f.Data = []byte("{")
				}
			}
		}, "ALICE2025.json: not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := good()
			c.change(fsys)
			// A temporary directory or the lock file of a publisher at work
			// is never a problem.
			fsys["snapshots/.tmp-x/cycles.json"] = &fstest.MapFile{Data: []byte("junk")}
			fsys[".refrecon.lock"] = &fstest.MapFile{}
			err := schema.ValidateSnapshot(fsys)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), ".tmp-") {
				t.Errorf("temporary directory reported: %v", err)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	for rel, want := range map[string]schema.Kind{
		"manifest.json":                                       schema.Manifest,
		"cycles.json":                                         schema.Cycles,
		"cycles/cycle-1/leaderboard/1.json":                   schema.Leaderboard,
		"cycles/cycle-1/leaderboard/12.json":                  schema.Leaderboard,
		"referrers/~2E~2Ex.json":                              schema.Referrer,
		"referrers/abc.0123456789abcdef0123456789abcdef.json": schema.Referrer,
	} {
		if got, err := schema.KindOf(rel); err != nil || got != want {
			t.Errorf("KindOf(%q) = %q, %v; want %q", rel, got, err, want)
		}
	}
	for _, rel := range []string{"latest.json", "cycles/cycle-1/leaderboard/0.json", "cycles/Cycle/leaderboard/1.json",
		"referrers/a/b.json", "referrers/.json", "referrers/..json", "referrers/a.b.json", "../manifest.json", "cycles/cycle-1/leaderboard/1.json.gz"} {
		if k, err := schema.KindOf(rel); err == nil {
			t.Errorf("KindOf(%q) = %q, want an error", rel, k)
		}
	}
}

func TestSourceAndNames(t *testing.T) {
	for _, n := range schema.Names() {
		b, err := schema.Source(n)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" || !strings.HasSuffix(doc.ID, "/"+n+".schema.json") {
			t.Errorf("%s: $schema %q, $id %q", n, doc.Schema, doc.ID)
		}
	}
	if _, err := schema.Source("nope"); err == nil {
		t.Error("unknown schema name accepted")
	}
}

// TestVersionIsTheManifestConst: the manifest schema accepts exactly the
// schemaVersion the publisher writes.
func TestVersionIsTheManifestConst(t *testing.T) {
	b, err := schema.Source("manifest")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			SchemaVersion struct {
				Const *int `json:"const"`
			} `json:"schemaVersion"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if c := doc.Properties.SchemaVersion.Const; c == nil || *c != schema.Version {
		t.Errorf("manifest.schema.json schemaVersion const %v, schema.Version %d", c, schema.Version)
	}
	m := goldenDoc(t, schema.Manifest)
	m["schemaVersion"] = schema.Version + 1
	if err := schema.Validate(schema.Manifest, mustJSON(t, m)); err == nil || !strings.Contains(err.Error(), "/schemaVersion") {
		t.Errorf("a manifest of the next version: %v", err)
	}
}
