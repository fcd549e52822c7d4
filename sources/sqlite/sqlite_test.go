package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sources/referralstest"
	"github.com/refrecon/refrecon/sources/sqlite"
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
	var se *sqlite.SchemaError
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

func TestTimestampValue(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"2024-01-01 00:00:00", "2024-01-01 00:00:00"},
		{" anything ", " anything "},
		{int64(0), "1970-01-01T00:00:00Z"},
		{int64(-1), "1969-12-31T23:59:59Z"},
		{int64(253402300799), "9999-12-31T23:59:59Z"},
		{int64(253402300800), "253402300800"},
		{int64(-62167219201), "-62167219201"},
		{int64(1 << 62), "4611686018427387904"},
		{1.5, "1970-01-01T00:00:01.5Z"},
		{-0.5, "1969-12-31T23:59:59.5Z"},
		{1e300, "1e+300"},
		{[]byte("2024-01-01"), "2024-01-01"},
	} {
		if got := sqlite.TimestampValue(c.in); got != c.want {
			t.Errorf("TimestampValue(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBoolValue(t *testing.T) {
	for _, c := range []struct {
		in      any
		want    bool
		wantErr bool
	}{
		{nil, false, false}, {int64(0), false, false}, {int64(1), true, false},
		{0.0, false, false}, {1.0, true, false}, {"true", true, false}, {" FALSE ", false, false},
		{"1", true, false}, {"0", false, false}, {[]byte("true"), true, false},
		{int64(2), false, true}, {"yes", false, true}, {"", false, true}, {0.5, false, true},
	} {
		got, err := sqlite.BoolValue(c.in)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("BoolValue(%#v) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
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
