package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sources/internal/inputfile/inputfiletest"
	"github.com/refrecon/refrecon/sources/referrals"
	"github.com/refrecon/refrecon/sources/referrals/referralstest"
	"github.com/refrecon/refrecon/sources/referrals/sqlite"
)

func TestConformance(t *testing.T) {
	referralstest.Run(t, func(t *testing.T, dbPath string) referralstest.Source {
		return sqlite.New(dbPath)
	})
}

func TestSchemaErrorIsTyped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.sqlite")
	referralstest.CreateDB(t, path,
		referralstest.Stmt{SQL: "CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT)"},
		referralstest.Stmt{SQL: "CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT)"})
	_, err := sqlite.New(path).ReadReferrals(context.Background())
	var se *referrals.SchemaError
	if !errors.As(err, &se) || se.Table != "referrals" || se.Column != "referred_at" {
		t.Fatalf("err = %v, want a *SchemaError for referrals.referred_at", err)
	}
	want := `referrals source sqlite:` + path + `: table referrals has no column "referred_at"`
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.sqlite")
	_, err := sqlite.New(path).ReadReferrals(context.Background())
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want not-exist naming the path", err)
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("reading a missing file created it")
	}
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.sqlite")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.New(path).ReadReferrals(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want an error naming the path", err)
	}
}

func TestPathWithURIMetacharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "r.sqlite")
	referralstest.CreateDB(t, path, referralstest.Stmt{SQL: referralstest.SchemaSQL},
		referralstest.Insert("users", []string{"email", "refcode"}, "a@example.com", "A"))
	got, err := sqlite.New(path).ReadReferrals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Users) != 1 || got.Users[0].Refcode != "A" {
		t.Errorf("got %+v", got)
	}
}

// The image source reads the bytes of a SQLite file exactly as the file
// source reads the file.
func TestImageConformance(t *testing.T) {
	referralstest.Run(t, func(t *testing.T, dbPath string) referralstest.Source {
		image, err := os.ReadFile(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		return sqlite.NewImage(filepath.Base(dbPath), image)
	})
}

func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	inputfiletest.Run(t, func(ctx context.Context, path string) error {
		_, err := sqlite.New(path).ReadReferrals(ctx)
		return err
	})
}
