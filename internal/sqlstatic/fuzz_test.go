package sqlstatic

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"",
	"SELECT 1",
	"DROP TABLE IF EXISTS \"s\".\"t\", u CASCADE;",
	"ALTER TABLE t DROP COLUMN a, ALTER COLUMN b DROP DEFAULT, DROP CONSTRAINT c;",
	"UPDATE t SET a = 'where' -- where\n;",
	"DELETE FROM t WHERE id IN (SELECT id FROM u WHERE x);",
	"WITH x AS (SELECT 1) DELETE FROM t",
	"INSERT INTO t VALUES ('it''s', 'a\\'b', \"q\"\"q\", `b``t`);",
	"CREATE FUNCTION f() AS $fn$ DELETE FROM t; $fn$; SELECT $$a$$;",
	"DELIMITER //\nCREATE PROCEDURE p() BEGIN TRUNCATE t; END//\nDELIMITER ;\n",
	"-- atlas:delimiter \\n\\n\nSELECT 1;\n\nSELECT 2;",
	"# c\nDROP DATABASE d; /* x */ TRUNCATE TABLE ONLY a, b *;",
	"CREATE TRIGGER tr AFTER INSERT ON a BEGIN DELETE FROM b; END;",
	"SELECT 'unterminated",
	"SELECT (1;",
	"SELECT 1); /* open",
	"DROP TABLE \xff\xfe; SELECT $ü$x$ü$",
	"ALTER TABLE t DROP",
	"DELETE",
	"/* a /* nested */ still a comment; DROP TABLE t; */ SELECT 1;",
	"SELECT 'ünï''cödé', \"ташкент\" FROM \"表\"; -- ✓\nDROP TABLE \"表\";",
	"DO $body$ BEGIN EXECUTE $q$DROP TABLE t$q$; END $body$;",
	"DELIMITER $$\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; END$$\nDELIMITER ;",
}

var fuzzEngines = []Dialect{"", DialectPostgreSQL, DialectMySQL, DialectSQLite}

func FuzzSplit(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, engine := range fuzzEngines {
			stmts, err := SplitFor(engine, sql)
			if err != nil {
				continue
			}
			for i, s := range stmts {
				if s.Pos < 0 || s.Pos > len(sql) {
					t.Fatalf("%s: statement %d: Pos %d outside a script of %d bytes", engine, i, s.Pos, len(sql))
				}
				if !strings.HasPrefix(sql[s.Pos:], s.Text) {
					t.Fatalf("%s: statement %d: %q is not at Pos %d", engine, i, s.Text, s.Pos)
				}
				if s.Line < 1 || s.Line > 1+strings.Count(sql, "\n") {
					t.Fatalf("%s: statement %d: Line %d outside the script", engine, i, s.Line)
				}
				if s.Stripped == "" {
					t.Fatalf("%s: statement %d is empty: %q", engine, i, s.Text)
				}
				// Stripped reads the same as the statement it came from.
				toks, err := tokenize(s.Stripped, s.lex)
				if err != nil {
					t.Fatalf("%s: Stripped %q does not lex: %v", engine, s.Stripped, err)
				}
				if got := render(toks); got != s.Stripped {
					t.Fatalf("%s: Stripped %q lexes back as %q", engine, s.Stripped, got)
				}
			}
			Destructive(stmts)
		}
	})
}

func FuzzDestructive(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		// Statements made by hand need not lex at all.
		check(t, []Stmt{{Text: sql}})
		for _, engine := range fuzzEngines {
			if stmts, err := SplitFor(engine, sql); err == nil {
				check(t, stmts)
			}
		}
	})
}

func check(t *testing.T, stmts []Stmt) {
	for _, f := range Destructive(stmts) {
		if f.Statement < 0 || f.Statement >= len(stmts) {
			t.Fatalf("finding for statement %d of %d", f.Statement, len(stmts))
		}
		if f.Kind == "" || !strings.HasSuffix(f.Message, f.Text) || len([]rune(f.Text)) > maxTextLen+3 {
			t.Fatalf("malformed finding %#v", f)
		}
	}
}
