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
