package sqlstatic

import "testing"

func TestReadOnlyAdmitsQueriesAlone(t *testing.T) {
	for _, tc := range []struct {
		engine Dialect
		sql    string
		refuse []int // statements refused, 0-based
	}{
		{DialectPostgreSQL, "SELECT count(*) = 0 FROM users WHERE email IS NULL", nil},
		{DialectPostgreSQL, "WITH x AS (SELECT 1) SELECT * FROM x; VALUES (true); TABLE users", nil},
		{DialectPostgreSQL, "  -- a comment\n/* another */ select 1", nil},
		{DialectPostgreSQL, "SELECT 1; DELETE FROM users; SELECT 1", []int{1}},
		{DialectPostgreSQL, "COMMIT; SELECT 1", []int{0}},
		{DialectPostgreSQL, "ROLLBACK TO SAVEPOINT kube_shift_read_only; RELEASE SAVEPOINT kube_shift_read_only; SELECT 1", []int{0, 1}},
		{DialectPostgreSQL, "SET transaction_read_only = off; SELECT 1", []int{0}},
		{DialectPostgreSQL, "CALL p(); DO $$ BEGIN END $$; SELECT 1", []int{0, 1}},
		{DialectPostgreSQL, "(SELECT 1)", []int{0}},
		{DialectPostgreSQL, "SELECT 1 /*! a comment to PostgreSQL */", nil},
		{DialectMySQL, "SELECT 1 /*!, (DELETE FROM t) */", []int{0}},
		{DialectMariaDB, "SELECT 1 /*M!100000 , sneaky() */", []int{0}},
		// A comment before a statement is not part of it: not sent.
		{DialectMariaDB, "/*M!100000 DROP TABLE t */ SELECT 1", nil},
		{DialectMySQL, "DROP TABLE t; SELECT 1", []int{0}},
		{DialectMySQL, "SET SESSION TRANSACTION READ WRITE; SELECT 1", []int{0}},
		{DialectSQLite, "PRAGMA query_only = 0; SELECT 1", []int{0}},
		{DialectSQLite, "SELECT 1; SELECT 2", nil},
	} {
		stmts, err := SplitFor(tc.engine, tc.sql)
		if err != nil {
			t.Fatalf("%q: %v", tc.sql, err)
		}
		var got []int
		for _, v := range ReadOnly(tc.engine, stmts) {
			got = append(got, v.Statement)
			if v.Reach != "" {
				t.Errorf("%q: a violation no setting allows has no reach, got %q", tc.sql, v.Reach)
			}
		}
		if len(got) != len(tc.refuse) {
			t.Errorf("%s %q: refused %v, want %v", tc.engine, tc.sql, got, tc.refuse)
			continue
		}
		for i := range got {
			if got[i] != tc.refuse[i] {
				t.Errorf("%s %q: refused %v, want %v", tc.engine, tc.sql, got, tc.refuse)
			}
		}
	}
}

// A carriage return alone ends a -- comment for PostgreSQL, not for the
// splitters: the server would read, after it, statements no check read
// (a DROP the destructive lint never saw). The gate refuses it in every
// script, whatever it allows; a Windows line end (CR LF) is a line end.
func TestGateRefusesALoneCarriageReturn(t *testing.T) {
	g := Gate{Schema: "public", Allow: map[Reach]bool{ReachRole: true, ReachPrivilege: true, ReachSystem: true, ReachFile: true, ReachForeign: true, ReachSession: true, ReachOtherSchema: true}}
	for sql, refused := range map[string]bool{
		"CREATE TABLE t (id int) -- a comment\r; DROP TABLE users\n;\nSELECT 1;": true,
		// A comment between statements is not sent with either.
		"CREATE TABLE t (id int); -- a comment\r DROP TABLE users;\nSELECT 1;": false,
		"SELECT 1 --\r; DELETE FROM users":                                     true,
		"CREATE TABLE t (id int);\r\nCREATE TABLE u (id int);\r\n":             false,
		"CREATE TABLE t (id int); -- a comment\r\nSELECT 1;":                   false,
	} {
		v, err := g.CheckScript(DialectPostgreSQL, sql)
		if err != nil {
			t.Fatalf("%q: %v", sql, err)
		}
		if got := len(v) > 0; got != refused {
			t.Errorf("%q: refused %v, want %v (%v)", sql, got, refused, v)
		}
	}
}
