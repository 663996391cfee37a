package sqlstatic

import (
	"errors"
	"testing"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/mysql"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/sqlite"
	. "github.com/onsi/gomega"
)

// stripped is the view of statements most split tests assert on.
func stripped(stmts []Stmt) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = s.Stripped
	}
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{name: "empty", sql: "", want: []string{}},
		{name: "only comments", sql: "-- nothing\n/* to */ -- do\n", want: []string{}},
		{name: "stray semicolons", sql: ";;\n ; ", want: []string{}},
		{name: "one without delimiter", sql: "SELECT 1", want: []string{"SELECT 1"}},
		{
			name: "several, comments stripped and space collapsed",
			sql:  "-- create\nCREATE TABLE a (\n  id int, -- key\n  name text /* shown */\n);\n\nINSERT INTO a VALUES (1, 'x');",
			want: []string{"CREATE TABLE a ( id int, name text )", "INSERT INTO a VALUES (1, 'x')"},
		},
		{
			name: "semicolons and comment markers inside literals",
			sql:  `INSERT INTO t VALUES ('a;b', 'it''s -- fine', "x;y", '/* no */');SELECT 2;`,
			want: []string{`INSERT INTO t VALUES ('a;b', 'it''s -- fine', "x;y", '/* no */')`, "SELECT 2"},
		},
		{
			name: "dollar-quoted function body is one statement",
			sql:  "CREATE FUNCTION f() RETURNS void AS $body$ BEGIN DELETE FROM t; END; $body$ LANGUAGE plpgsql;\nSELECT f();",
			want: []string{"CREATE FUNCTION f() RETURNS void AS $body$ BEGIN DELETE FROM t; END; $body$ LANGUAGE plpgsql", "SELECT f()"},
		},
		{
			name: "MySQL DELIMITER command",
			sql:  "DELIMITER //\nCREATE PROCEDURE p() BEGIN DELETE FROM t; END//\nDELIMITER ;\nSELECT 1;",
			want: []string{"CREATE PROCEDURE p() BEGIN DELETE FROM t; END", "SELECT 1"},
		},
		{
			name: "Atlas delimiter directive",
			sql:  "-- atlas:delimiter \\n\\n\nSELECT 1;\n\nSELECT 2;",
			want: []string{"SELECT 1", "SELECT 2"},
		},
		{name: "trailing line comment with a quote", sql: "SELECT 1; -- don't", want: []string{"SELECT 1"}},
		{name: "qualified and quoted names keep their shape", sql: `DROP TABLE "s"."t", db.t2`, want: []string{`DROP TABLE "s"."t", db.t2`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Split(tt.sql)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(stripped(got)).To(Equal(tt.want))
		})
	}
}

func TestSplitPositions(t *testing.T) {
	g := NewWithT(t)
	sql := "-- header\n\nCREATE TABLE a (id int);\n  /* c */ DROP TABLE b;\n\n\nSELECT 1"
	got, err := Split(sql)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(HaveLen(3))

	g.Expect(got[0].Text).To(Equal("CREATE TABLE a (id int);"))
	g.Expect(got[0].Line).To(Equal(3))
	g.Expect(got[1].Text).To(Equal("DROP TABLE b;"))
	g.Expect(got[1].Line).To(Equal(4))
	g.Expect(got[2].Line).To(Equal(7))
	for _, s := range got {
		g.Expect(sql[s.Pos:]).To(HavePrefix(s.Text))
	}

	got, err = Split("-- atlas:delimiter \\n\\n\nSELECT 1;\n\nSELECT 2;")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]int{got[0].Line, got[1].Line}).To(Equal([]int{2, 4}))
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		wantErr string
	}{
		{name: "unterminated string", sql: "SELECT 1;\nSELECT 'abc", wantErr: `line 2, column 8: unclosed quote '\''`},
		{name: "unterminated quoted identifier", sql: `SELECT "abc`, wantErr: `line 1, column 8: unclosed quote '"'`},
		{name: "unclosed parenthesis", sql: "CREATE TABLE t (\n  id int;", wantErr: "line 1, column 16: unclosed '('"},
		{name: "unexpected parenthesis", sql: "SELECT 1)", wantErr: "line 1, column 9: unexpected ')'"},
		{name: "unterminated dollar quote", sql: "SELECT 1;\n  SELECT $x$ abc", wantErr: "line 2, column 10: unterminated dollar-quoted string starting with $x$"},
		{name: "scanner panic", sql: "DELIMITER '\nSELECT 1", wantErr: "the statement scanner cannot read this input: runtime error: slice bounds out of range [1:0]"},
		{name: "unterminated block comment", sql: "SELECT 1; /* never closed", wantErr: "line 1, column 11: unterminated /* comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Split(tt.sql)
			g.Expect(err).To(MatchError(tt.wantErr))
			var syntax *SyntaxError
			g.Expect(errors.As(err, &syntax)).To(BeTrue())
		})
	}
}

func TestSplitFor(t *testing.T) {
	tests := []struct {
		name   string
		engine Dialect
		sql    string
		want   []string
	}{
		{
			name: "MySQL backslash escapes and hash comments", engine: DialectMySQL,
			sql:  "# seed\nINSERT INTO t VALUES ('it\\'s; fine');\nSELECT 1; # done",
			want: []string{`INSERT INTO t VALUES ('it\'s; fine')`, "SELECT 1"},
		},
		{
			name: "MariaDB as MySQL", engine: DialectMariaDB,
			sql:  "UPDATE t SET a = 'x\\';' WHERE id = 1;",
			want: []string{`UPDATE t SET a = 'x\';' WHERE id = 1`},
		},
		{
			name: "PostgreSQL backslash is plain in standard strings", engine: DialectPostgreSQL,
			sql:  "INSERT INTO t VALUES ('C:\\dir\\', $$a;b$$);",
			want: []string{`INSERT INTO t VALUES ('C:\dir\', $$a;b$$)`},
		},
		{
			name: "SQLite trigger body is one statement", engine: DialectSQLite,
			sql:  "CREATE TRIGGER tr AFTER INSERT ON a BEGIN DELETE FROM b; END;\nSELECT 1;",
			want: []string{"CREATE TRIGGER tr AFTER INSERT ON a BEGIN DELETE FROM b; END", "SELECT 1"},
		},
		{name: "unknown engine splits generically", engine: "oracle", sql: "SELECT 1; SELECT 2", want: []string{"SELECT 1", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := SplitFor(tt.engine, tt.sql)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(stripped(got)).To(Equal(tt.want))
		})
	}
}

// TestDialectsMatchAtlasDrivers keeps our scanner options in step with the
// ones Atlas's drivers use when they run a script: statements must split
// the same way for the checks to be about what runs.
func TestDialectsMatchAtlasDrivers(t *testing.T) {
	drivers := map[Dialect]migrate.StmtScanner{
		DialectPostgreSQL: &postgres.Driver{},
		DialectMySQL:      &mysql.Driver{},
		DialectMariaDB:    &mysql.Driver{},
		DialectSQLite:     &sqlite.Driver{},
	}
	scripts := []string{
		"SELECT 1; SELECT 2;",
		"INSERT INTO t VALUES ('a\\';b'); SELECT 3;",
		"INSERT INTO t VALUES (E'a\\';b'); SELECT 3;",
		"# c;\nSELECT 1;",
		"CREATE FUNCTION f() AS $$ x; y $$; SELECT 4;",
		"CREATE TRIGGER tr AFTER INSERT ON a BEGIN DELETE FROM b; END;\nSELECT 1;",
		"CREATE FUNCTION g() RETURNS int BEGIN ATOMIC SELECT 1; END;\nSELECT 2;",
	}
	g := NewWithT(t)
	g.Expect(drivers).To(HaveLen(len(dialects)))
	for engine, driver := range drivers {
		for _, sql := range scripts {
			want, wantErr := driver.ScanStmts(sql + "\n")
			got, err := SplitFor(engine, sql)
			if wantErr != nil {
				g.Expect(err).To(HaveOccurred(), "%s: %q", engine, sql)
				continue
			}
			// Our lexer is stricter than Atlas's (unterminated comments and
			// dollar quotes), never looser.
			if err != nil {
				continue
			}
			texts := make([]string, len(got))
			for i, s := range got {
				texts[i] = s.Text
			}
			var wantTexts []string
			for _, s := range want {
				wantTexts = append(wantTexts, s.Text)
			}
			g.Expect(texts).To(Equal(wantTexts), "%s: %q", engine, sql)
		}
	}
}
