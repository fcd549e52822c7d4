package referralstest

import (
	"fmt"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
)

var (
	userCols = []string{"email", "refcode"}
	refCols  = []string{"email", "refcode", "referred_at", "selected_plan", "rewarded"}
)

// Cases returns the suite's cases.
func Cases() []Case {
	cs := []Case{
		specCase(),
		nullsCase(),
		oddValuesCase(),
		{
			Name: "rewarded not a boolean",
			Stmts: []Stmt{
				{SQL: SchemaSQL},
				Insert("users", userCols, "a@example.com", "A"),
				Insert("referrals", refCols, "b@example.com", "A", "2024-01-01 00:00:00", nil, "yes"),
			},
			WantErr: []string{"rewarded", `"yes"`},
		},
		optionalAbsentCase(),
		extraColumnsCase(),
		unicodeCase(),
		LargeCase(1200, 3500, 40),
		noCaseKeysCase(),
	}
	for _, m := range []struct{ table, column string }{
		{"users", "email"}, {"users", "refcode"},
		{"referrals", "email"}, {"referrals", "refcode"}, {"referrals", "referred_at"},
	} {
		cs = append(cs, missingColumnCase(m.table, m.column))
	}
	cs = append(cs,
		Case{
			Name:    "missing table users",
			Stmts:   []Stmt{{SQL: "CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT, referred_at DATETIME)"}},
			WantErr: []string{`"users"`},
		},
		Case{
			Name:    "missing table referrals",
			Stmts:   []Stmt{{SQL: "CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT UNIQUE)"}},
			WantErr: []string{`"referrals"`},
		},
	)
	return cs
}

func specCase() Case {
	return Case{
		Name: "spec schema",
		Stmts: []Stmt{
			{SQL: SchemaSQL},
			Insert("users", userCols, "alice@example.com", "ALICE1"),
			Insert("users", userCols, "bob@example.com", "BOB2"),
			Insert("referrals", refCols, "carol@example.com", "ALICE1", "2024-03-01 10:00:00", "pro", int64(0)),
			Insert("referrals", refCols, "dave@example.com", "BOB2", "2024-03-02 11:30:00", "basic", int64(1)),
			Insert("referrals", refCols, "erin@example.com", "ALICE1", "2024-03-03T12:00:00Z", "pro", int64(0)),
			// The schema's defaults: rewarded DEFAULT false.
			Insert("referrals", []string{"email", "refcode", "referred_at"}, "fred@example.com", "BOB2", "2024-03-04 00:00:00"),
		},
		Want: pipeline.Referrals{
			Users: []pipeline.User{{Email: "alice@example.com", Refcode: "ALICE1"}, {Email: "bob@example.com", Refcode: "BOB2"}},
			Rows: []pipeline.ReferralRow{
				{Email: "carol@example.com", Refcode: "ALICE1", ReferredAt: "2024-03-01 10:00:00", SelectedPlan: "pro"},
				{Email: "dave@example.com", Refcode: "BOB2", ReferredAt: "2024-03-02 11:30:00", SelectedPlan: "basic", Rewarded: true},
				{Email: "erin@example.com", Refcode: "ALICE1", ReferredAt: "2024-03-03T12:00:00Z", SelectedPlan: "pro"},
				{Email: "fred@example.com", Refcode: "BOB2", ReferredAt: "2024-03-04 00:00:00"},
			},
		},
	}
}

func nullsCase() Case {
	return Case{
		Name: "NULLs",
		Stmts: []Stmt{
			{SQL: SchemaSQL},
			Insert("users", userCols, nil, "NOEMAIL"),
			Insert("users", userCols, "frank@example.com", nil),
			Insert("users", userCols, "gina@example.com", "G"),
			// A TEXT PRIMARY KEY admits any number of NULLs in SQLite.
			Insert("referrals", refCols, nil, "G", "2024-01-01 00:00:00", nil, nil),
			Insert("referrals", refCols, nil, nil, nil, nil, nil),
			Insert("referrals", refCols, nil, nil, nil, nil, nil),
			Insert("referrals", refCols, "hank@example.com", nil, nil, nil, nil),
			Insert("referrals", refCols, "ivy@example.com", "G", "2024-01-02 00:00:00", nil, int64(1)),
		},
		Want: pipeline.Referrals{
			Users: []pipeline.User{{Refcode: "NOEMAIL"}, {Email: "frank@example.com"}, {Email: "gina@example.com", Refcode: "G"}},
			Rows: []pipeline.ReferralRow{
				{Refcode: "G", ReferredAt: "2024-01-01 00:00:00"},
				{},
				{},
				{Email: "hank@example.com"},
				{Email: "ivy@example.com", Refcode: "G", ReferredAt: "2024-01-02 00:00:00", Rewarded: true},
			},
		},
	}
}

func oddValuesCase() Case {
	return Case{
		Name: "odd values pass through",
		Stmts: []Stmt{
			{SQL: SchemaSQL},
			Insert("users", userCols, "  Owner@Example.COM ", "OWN"),
			Insert("users", userCols, "", ""),
			Insert("referrals", refCols, "not-an-email", "OWN", "yesterday", "pro", int64(0)),
			Insert("referrals", refCols, "two@@example.com", "NOPE", "2024-02-30 25:61:00", " pro ", "true"),
			Insert("referrals", refCols, "  Mixed.Case+tag@GMAIL.com ", "", "", "", "FALSE"),
			Insert("referrals", refCols, "", "OWN", "2024-01-01", "x", "1"),
			Insert("referrals", refCols, "unix@example.com", "OWN", int64(1700000000), nil, 1.0),
			Insert("referrals", refCols, "unixreal@example.com", "OWN", 1700000000.25, nil, 0.0),
			Insert("referrals", refCols, "unixms@example.com", "OWN", int64(1700000000000), nil, nil),
			// NUMERIC affinity turns this text into an integer.
			Insert("referrals", refCols, "numtext@example.com", "OWN", "1700000001", nil, nil),
			Insert("referrals", refCols, "blob@example.com", "OWN", "2024-01-01 00:00:00", []byte("plan"), nil),
			Insert("referrals", refCols, "owner@example.com", "OWN", "2024-01-01 00:00:00", int64(42), nil),
		},
		Want: pipeline.Referrals{
			Users: []pipeline.User{{Email: "  Owner@Example.COM ", Refcode: "OWN"}, {}},
			Rows: []pipeline.ReferralRow{
				{Email: "not-an-email", Refcode: "OWN", ReferredAt: "yesterday", SelectedPlan: "pro"},
				{Email: "two@@example.com", Refcode: "NOPE", ReferredAt: "2024-02-30 25:61:00", SelectedPlan: " pro ", Rewarded: true},
				{Email: "  Mixed.Case+tag@GMAIL.com "},
				{Refcode: "OWN", ReferredAt: "2024-01-01", SelectedPlan: "x", Rewarded: true},
				{Email: "unix@example.com", Refcode: "OWN", ReferredAt: "2023-11-14T22:13:20Z", Rewarded: true},
				{Email: "unixreal@example.com", Refcode: "OWN", ReferredAt: "2023-11-14T22:13:20.25Z"},
				{Email: "unixms@example.com", Refcode: "OWN", ReferredAt: "1700000000000"},
				{Email: "numtext@example.com", Refcode: "OWN", ReferredAt: "2023-11-14T22:13:21Z"},
				{Email: "blob@example.com", Refcode: "OWN", ReferredAt: "2024-01-01 00:00:00", SelectedPlan: "plan"},
				{Email: "owner@example.com", Refcode: "OWN", ReferredAt: "2024-01-01 00:00:00", SelectedPlan: "42"},
			},
		},
	}
}

func optionalAbsentCase() Case {
	cols := []string{"email", "refcode", "referred_at"}
	return Case{
		Name: "rewarded and selected_plan absent",
		Stmts: []Stmt{
			{SQL: "CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT UNIQUE)"},
			{SQL: "CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT, referred_at DATETIME)"},
			Insert("users", userCols, "a@example.com", "A"),
			Insert("referrals", cols, "b@example.com", "A", "2024-05-01 08:00:00"),
			Insert("referrals", cols, "c@example.com", "A", nil),
		},
		Want: pipeline.Referrals{
			Users: []pipeline.User{{Email: "a@example.com", Refcode: "A"}},
			Rows: []pipeline.ReferralRow{
				{Email: "b@example.com", Refcode: "A", ReferredAt: "2024-05-01 08:00:00"},
				{Email: "c@example.com", Refcode: "A"},
			},
		},
	}
}

func extraColumnsCase() Case {
	return Case{
		Name: "extra columns and tables, other column order and case",
		Stmts: []Stmt{
			{SQL: `CREATE TABLE users (id INTEGER, display_name TEXT, REFCODE TEXT UNIQUE, Email TEXT PRIMARY KEY, created_at DATETIME)`},
			{SQL: `CREATE TABLE referrals (rewarded BOOLEAN, utm_source TEXT, "Referred_At" DATETIME, refcode TEXT, email TEXT PRIMARY KEY, selected_plan TEXT, ip BLOB)`},
			{SQL: `CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID`},
			{SQL: `CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`},
			{SQL: `INSERT INTO d1_migrations (name, applied_at) VALUES ('0001_init.sql', '2024-01-01 00:00:00')`},
			{SQL: `INSERT INTO users VALUES (7, 'Alice', 'A', 'a@example.com', '2023-12-01 00:00:00')`},
			{SQL: `INSERT INTO referrals VALUES (1, 'newsletter', '2024-02-01 09:00:00', 'A', 'b@example.com', 'team', X'7F000001')`},
		},
		Want: pipeline.Referrals{
			Users: []pipeline.User{{Email: "a@example.com", Refcode: "A"}},
			Rows:  []pipeline.ReferralRow{{Email: "b@example.com", Refcode: "A", ReferredAt: "2024-02-01 09:00:00", SelectedPlan: "team", Rewarded: true}},
		},
	}
}

func unicodeCase() Case {
	plan := "plan 'pro' \"annual\"\nsecond line; -- not a comment %s \\ ✓"
	return Case{
		Name: "Unicode and quoting",
		Stmts: []Stmt{
			{SQL: SchemaSQL},
			Insert("users", userCols, "josé@exämple.com", "ÉCOLE-✓"),
			Insert("users", userCols, "用户@例子.中国", "🎉PARTY"),
			Insert("users", userCols, "O'Brien@example.com", `quote"d`),
			Insert("referrals", refCols, "zoë+tag@gmail.com", "ÉCOLE-✓", "2024-06-01 12:00:00", plan, int64(0)),
			Insert("referrals", refCols, "Zoë+tag@gmail.com", "🎉PARTY", "2024-06-01 12:00:00", "Ω", int64(0)),
			Insert("referrals", refCols, "ZOË+TAG@gmail.com", `quote"d`, "2024-06-01 12:00:00", "", int64(1)),
			Insert("referrals", refCols, "'; DROP TABLE users; --@example.com", "O'Brien", "2024-06-02 00:00:00", nil, nil),
		},
		Want: pipeline.Referrals{
			Users: []pipeline.User{
				{Email: "josé@exämple.com", Refcode: "ÉCOLE-✓"},
				{Email: "用户@例子.中国", Refcode: "🎉PARTY"},
				{Email: "O'Brien@example.com", Refcode: `quote"d`},
			},
			Rows: []pipeline.ReferralRow{
				{Email: "zoë+tag@gmail.com", Refcode: "ÉCOLE-✓", ReferredAt: "2024-06-01 12:00:00", SelectedPlan: plan},
				{Email: "Zoë+tag@gmail.com", Refcode: "🎉PARTY", ReferredAt: "2024-06-01 12:00:00", SelectedPlan: "Ω"},
				{Email: "ZOË+TAG@gmail.com", Refcode: `quote"d`, ReferredAt: "2024-06-01 12:00:00", Rewarded: true},
				{Email: "'; DROP TABLE users; --@example.com", Refcode: "O'Brien", ReferredAt: "2024-06-02 00:00:00"},
			},
		},
	}
}

func missingColumnCase(table, column string) Case {
	cols := map[string][]string{
		"users":     {"email TEXT PRIMARY KEY", "refcode TEXT"},
		"referrals": {"email TEXT PRIMARY KEY", "refcode TEXT", "referred_at DATETIME", "selected_plan TEXT", "rewarded BOOLEAN"},
	}
	var stmts []Stmt
	for _, tb := range []string{"users", "referrals"} {
		var defs []string
		for _, d := range cols[tb] {
			if name := strings.Fields(d)[0]; tb == table && name == column {
				continue
			}
			defs = append(defs, d)
		}
		if tb == table && column == "email" {
			defs = append(defs, "id INTEGER PRIMARY KEY")
		}
		stmts = append(stmts, Stmt{SQL: fmt.Sprintf("CREATE TABLE %s (%s)", tb, strings.Join(defs, ", "))})
	}
	return Case{
		Name:    "missing column " + table + "." + column,
		Stmts:   stmts,
		WantErr: []string{table, fmt.Sprintf("%q", column)},
	}
}

// LargeCase returns a case with the given number of users, referrals rows
// with an email, and referrals rows with a NULL email (the primary key), in
// the SPEC schema: enough rows to span several pages of a paging source.
// Rows are inserted in an order unrelated to their keys, some emails are in
// mixed case, and about one row in seven has an unknown refcode.
func LargeCase(users, rows, nullEmails int) Case {
	c := Case{Name: fmt.Sprintf("%d users, %d rows", users, rows+nullEmails), Stmts: []Stmt{{SQL: SchemaSQL}}}
	for i := range users {
		k := (i*7919 + 13) % users // a permutation when users is not a multiple of 7919
		email, code := fmt.Sprintf("referrer%06d@example.com", k), fmt.Sprintf("R%06d", k)
		c.Stmts = append(c.Stmts, Insert("users", userCols, email, code))
		c.Want.Users = append(c.Want.Users, pipeline.User{Email: email, Refcode: code})
	}
	for i := range rows {
		k := (i*7919 + 5) % rows
		email := fmt.Sprintf("referee%06d@example.com", k)
		if k%5 == 0 {
			email = fmt.Sprintf("Referee%06d@Example.com", k)
		}
		code := fmt.Sprintf("R%06d", k%max(users, 1))
		if k%7 == 0 {
			code = fmt.Sprintf("UNKNOWN%d", k)
		}
		at := fmt.Sprintf("2024-%02d-%02d %02d:%02d:%02d", 1+k%12, 1+k%28, k%24, k%60, (k*7)%60)
		plan := []string{"basic", "pro", ""}[k%3]
		rewarded := k%11 == 0
		var rv any = int64(0)
		if rewarded {
			rv = int64(1)
		}
		c.Stmts = append(c.Stmts, Insert("referrals", refCols, email, code, at, plan, rv))
		c.Want.Rows = append(c.Want.Rows, pipeline.ReferralRow{Email: email, Refcode: code, ReferredAt: at, SelectedPlan: plan, Rewarded: rewarded})
	}
	for i := range nullEmails {
		code := fmt.Sprintf("R%06d", i%max(users, 1))
		c.Stmts = append(c.Stmts, Insert("referrals", refCols, nil, code, "2024-07-01 00:00:00", nil, nil))
		c.Want.Rows = append(c.Want.Rows, pipeline.ReferralRow{Refcode: code, ReferredAt: "2024-07-01 00:00:00"})
	}
	return c
}

// noCaseKeysCase has primary keys declared COLLATE NOCASE (a real schema
// choice for emails) and more than a D1 page (1000 rows) of referrers whose
// emails alternate in case, so the database's order of the keys is not
// their bytewise order.
func noCaseKeysCase() Case {
	c := Case{Name: "keys with COLLATE NOCASE", Stmts: []Stmt{{SQL: `CREATE TABLE users (email TEXT PRIMARY KEY COLLATE NOCASE, refcode TEXT UNIQUE);
CREATE TABLE referrals (email TEXT PRIMARY KEY COLLATE NOCASE, refcode TEXT, referred_at DATETIME, selected_plan TEXT, rewarded BOOLEAN);`}}}
	for i := range 1100 {
		email := fmt.Sprintf("referrer%05d@example.com", i)
		if i%2 == 1 {
			email = strings.ToUpper(email[:1]) + email[1:]
		}
		code := fmt.Sprintf("R%05d", i)
		c.Stmts = append(c.Stmts, Insert("users", userCols, email, code))
		c.Want.Users = append(c.Want.Users, pipeline.User{Email: email, Refcode: code})
	}
	for i, email := range []string{"b@example.com", "A@example.com", "c@example.com", "B2@example.com", "a2@example.com"} {
		at := fmt.Sprintf("2024-01-0%d 00:00:00", i+1)
		c.Stmts = append(c.Stmts, Insert("referrals", refCols, email, "R00001", at, nil, int64(0)))
		c.Want.Rows = append(c.Want.Rows, pipeline.ReferralRow{Email: email, Refcode: "R00001", ReferredAt: at})
	}
	return c
}
