package d1dump_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/inputfile/inputfiletest"
	"github.com/refrecon/refrecon/sources/internal/sourcetest"
	"github.com/refrecon/refrecon/sources/referrals/d1dump"
	"github.com/refrecon/refrecon/sources/referrals/referralstest"
)

func TestConformance(t *testing.T) {
	referralstest.Run(t, func(t *testing.T, dbPath string) referralstest.Source {
		dump := filepath.Join(t.TempDir(), "export.sql")
		referralstest.WriteDump(t, dbPath, dump)
		return d1dump.New(dump)
	})
}

// wranglerDump has the shape `wrangler d1 export` writes: column lists in
// the INSERTs, D1's own tables, sqlite_sequence rows for AUTOINCREMENT.
const wranglerDump = `PRAGMA defer_foreign_keys=TRUE;
CREATE TABLE d1_migrations(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);
INSERT INTO "d1_migrations" ("id","name","applied_at") VALUES(1,'0001_init.sql','2024-04-01 10:00:00');
CREATE TABLE _cf_KV (
        key TEXT PRIMARY KEY,
        value BLOB
      ) WITHOUT ROWID;
CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT UNIQUE);
INSERT INTO "users" ("email","refcode") VALUES('alice@example.com','ALICE1');
INSERT INTO "users" ("email","refcode") VALUES('o''brien@example.com','OB');
CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT,
  referred_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  selected_plan TEXT, rewarded BOOLEAN DEFAULT false,
  FOREIGN KEY(refcode) REFERENCES users(refcode));
INSERT INTO "referrals" ("email","refcode","referred_at","selected_plan","rewarded") VALUES('carol@example.com','ALICE1','2024-04-02 09:30:00','pro',0);
INSERT INTO "referrals" ("email","refcode","referred_at","selected_plan","rewarded") VALUES('dan@example.com','GHOST','2024-04-03 09:30:00',NULL,1);
INSERT INTO "referrals" ("email","refcode","referred_at","selected_plan","rewarded") VALUES(NULL,'OB',NULL,'multi
line',NULL);
DELETE FROM sqlite_sequence;
INSERT INTO "sqlite_sequence" ("name","seq") VALUES('d1_migrations',1);
`

func TestWranglerExport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.sql")
	if err := os.WriteFile(path, []byte(wranglerDump), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := d1dump.New(path).ReadReferrals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	referralstest.Compare(t, got, pipeline.Referrals{
		Users: []pipeline.User{{Email: "alice@example.com", Refcode: "ALICE1"}, {Email: "o'brien@example.com", Refcode: "OB"}},
		Rows: []pipeline.ReferralRow{
			{Email: "carol@example.com", Refcode: "ALICE1", ReferredAt: "2024-04-02 09:30:00", SelectedPlan: "pro"},
			{Email: "dan@example.com", Refcode: "GHOST", ReferredAt: "2024-04-03 09:30:00", Rewarded: true},
			{Refcode: "OB", SelectedPlan: "multi\nline"},
		},
	})
}

func TestBadDumpNamesFileAndSQLiteMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.sql")
	bad := strings.Replace(wranglerDump, "INSERT INTO \"users\"", "INSERT INTOO \"users\"", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := d1dump.New(path).ReadReferrals(context.Background())
	sourcetest.CheckError(t, err, []string{path, `near "INTOO"`, "syntax error"})
}

func TestDumpCannotAttach(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.sqlite")
	path := filepath.Join(dir, "attach.sql")
	dump := "ATTACH DATABASE '" + other + "' AS x;\nCREATE TABLE x.t (a);\n" + wranglerDump
	if err := os.WriteFile(path, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := d1dump.New(path).ReadReferrals(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want an error naming the dump", err)
	}
	if _, statErr := os.Stat(other); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the dump created %s", other)
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.sql")
	_, err := d1dump.New(path).ReadReferrals(context.Background())
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want not-exist naming the path", err)
	}
}

func TestSchemaErrorNamesColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.sql")
	dump := strings.ReplaceAll(wranglerDump, `"referred_at",`, ``)
	dump = strings.ReplaceAll(dump, "'2024-04-02 09:30:00',", "")
	dump = strings.ReplaceAll(dump, "'2024-04-03 09:30:00',", "")
	dump = strings.ReplaceAll(dump, "NULL,'multi", "'multi")
	dump = strings.Replace(dump, "referred_at DATETIME DEFAULT CURRENT_TIMESTAMP,", "", 1)
	if err := os.WriteFile(path, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := d1dump.New(path).ReadReferrals(context.Background())
	want := "referrals source d1dump:" + path + `: table referrals has no column "referred_at"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	inputfiletest.Run(t, func(ctx context.Context, path string) error {
		_, err := d1dump.New(path).ReadReferrals(ctx)
		return err
	})
}
