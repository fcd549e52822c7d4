// Package schema is the machine-readable contract of the public snapshot
// (SPEC 3.1): a JSON Schema (draft 2020-12) for every public document,
// embedded in the binary, validation of documents and of whole published
// trees against them, and the TypeScript declarations generated from them
// (refrecon.d.ts, for the frontend to vendor).
//
// The schemas are strict on purpose: every field required, no other fields
// (additionalProperties: false), money as {currency, amount} with amount a
// digit string, enums for status and award model. They describe exactly what
// refrecon publishes, and every test that publishes validates every file it
// wrote against them, so a change of output that the contract does not
// describe fails a test. What counts as a breaking change of the contract
// (and bumps SchemaVersion) is written down in docs/decisions.md.
package schema

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer renders validation messages (the library localises them).
var printer = message.NewPrinter(language.English)

// Version is the version of the contract: manifest.json's schemaVersion.
// It changes only with a breaking change of a document (a field removed,
// renamed or retyped, a value a reader knows no longer produced, a new
// enum value); adding an optional field does not change it. See
// docs/decisions.md.
const Version = 1

// Kind names a public document type. Its schema is <Kind>.schema.json.
type Kind string

// The public documents.
const (
	Latest      Kind = "latest"      // PUBLIC_DIR/latest.json
	Manifest    Kind = "manifest"    // snapshots/<id>/manifest.json
	Cycles      Kind = "cycles"      // snapshots/<id>/cycles.json
	Leaderboard Kind = "leaderboard" // snapshots/<id>/cycles/<cycle>/leaderboard/<page>.json
	Referrer    Kind = "referrer"    // snapshots/<id>/referrers/<name>.json
)

// Kinds lists the documents in the order of the layout.
var Kinds = []Kind{Latest, Manifest, Cycles, Leaderboard, Referrer}

// common holds the definitions the documents share; it validates nothing on
// its own.
const common = "common"

// baseURL is the $id prefix of every schema file.
const baseURL = "https://github.com/refrecon/refrecon/sinks/public/schema/"

//go:embed *.schema.json
var files embed.FS

// Names lists every schema file's name without ".schema.json": the kinds
// and "common".
func Names() []string {
	names := []string{common}
	for _, k := range Kinds {
		names = append(names, string(k))
	}
	sort.Strings(names)
	return names
}

// Source returns the schema file of name (a Kind or "common") as stored.
func Source(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".schema.json")
	if err != nil {
		return nil, fmt.Errorf("no schema named %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

var compiled = sync.OnceValues(compile)

func compile() (map[Kind]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, name := range Names() {
		b, _ := files.ReadFile(name + ".schema.json")
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		if err := c.AddResource(baseURL+name+".schema.json", doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
	}
	out := make(map[Kind]*jsonschema.Schema, len(Kinds))
	for _, k := range Kinds {
		s, err := c.Compile(baseURL + string(k) + ".schema.json")
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// Validate checks one document of kind k. The error lists every violation
// with its JSON pointer.
func Validate(k Kind, doc []byte) error {
	schemas, err := compiled()
	if err != nil {
		return err
	}
	s, ok := schemas[k]
	if !ok {
		return fmt.Errorf("unknown document kind %q", k)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("does not match %s.schema.json: %s", k, describe(ve))
		}
		return err
	}
	return nil
}

// describe renders a validation error as its leaf causes, one per line:
// "/entries/0/award/amount: does not match pattern ...".
func describe(ve *jsonschema.ValidationError) string {
	var lines []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			lines = append(lines, "/"+strings.Join(e.InstanceLocation, "/")+": "+e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Strings(lines)
	return strings.Join(slices.Compact(lines), "; ")
}

var (
	snapshotDirRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$`)
	leaderboardRE = regexp.MustCompile(`^cycles/[a-z0-9]+(-[a-z0-9]+)*/leaderboard/[1-9][0-9]*\.json$`)
	referrerRE    = regexp.MustCompile(`^referrers/[A-Za-z0-9_~-]+(\.[0-9a-f]{32})?\.json$`)
)

// KindOf is the kind of the file at rel, a '/'-separated path relative to a
// snapshot directory (manifest.json, cycles/cycle-1/leaderboard/1.json...).
// A path that is no public document is an error.
func KindOf(rel string) (Kind, error) {
	switch {
	case rel == "manifest.json":
		return Manifest, nil
	case rel == "cycles.json":
		return Cycles, nil
	case leaderboardRE.MatchString(rel):
		return Leaderboard, nil
	case referrerRE.MatchString(rel):
		return Referrer, nil
	}
	return "", fmt.Errorf("%s: not a file of the public layout", rel)
}

// ValidateSnapshot validates a published tree: fsys is PUBLIC_DIR. It
// checks latest.json, that the snapshot it names exists, and then every
// file under snapshots/ (every retained snapshot, not only the latest)
// against the schema of its path. Files that are not part of the public
// layout are errors too, except the ones a publisher leaves beside it while
// it works: names that start with '.' (the lock file, temporary
// directories). Every problem is reported, one per line.
func ValidateSnapshot(fsys fs.FS) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	latest, err := fs.ReadFile(fsys, "latest.json")
	if err != nil {
		return fmt.Errorf("validate public snapshot: %w", err)
	}
	if err := Validate(Latest, latest); err != nil {
		add("latest.json: %v", err)
	} else if id, p := latestFields(latest); p != "snapshots/"+id+"/" {
		add("latest.json: path %q is not the snapshot's directory snapshots/%s/", p, id)
	} else if st, err := fs.Stat(fsys, path.Join("snapshots", id, "manifest.json")); err != nil || !st.Mode().IsRegular() {
		add("latest.json: names snapshot %s, which has no manifest.json", id)
	}

	snaps, err := fs.ReadDir(fsys, "snapshots")
	if err != nil {
		return fmt.Errorf("validate public snapshot: %w", err)
	}
	for _, d := range snaps {
		name := d.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !d.IsDir() || !snapshotDirRE.MatchString(name) {
			add("snapshots/%s: not a snapshot directory", name)
			continue
		}
		root := path.Join("snapshots", name)
		err := fs.WalkDir(fsys, root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			rel := strings.TrimPrefix(p, root+"/")
			k, err := KindOf(rel)
			if err != nil {
				add("%s: not a file of the public layout", p)
				return nil
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			if err := Validate(k, b); err != nil {
				add("%s: %v", p, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("validate public snapshot: %w", err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("public snapshot does not match its schemas:\n%s", strings.Join(problems, "\n"))
	}
	return nil
}

// latestFields extracts latest.json's snapshotId and path (validated
// before, so both are strings).
func latestFields(latest []byte) (id, dir string) {
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(latest))
	m, _ := v.(map[string]any)
	id, _ = m["snapshotId"].(string)
	dir, _ = m["path"].(string)
	return id, dir
}
