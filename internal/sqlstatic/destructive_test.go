package sqlstatic

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// found is the part of a Finding most cases assert on.
type found struct {
	Kind   Kind
	Object string
}

func TestDestructive(t *testing.T) {
	tests := []struct {
		sql    string
		engine Dialect // empty: Split
		want   []found
	}{
		// DROP TABLE
		{sql: "DROP TABLE users", want: []found{{KindDropTable, "users"}}},
		{sql: "drop   table\n\tIF  exists users CASCADE;", want: []found{{KindDropTable, "users"}}},
		{sql: `DROP TABLE "public"."Users"`, want: []found{{KindDropTable, "public.Users"}}},
		{sql: "DROP TABLE `app`.`order items`", engine: DialectMySQL, want: []found{{KindDropTable, "app.order items"}}},
		{sql: "DROP TABLE a, s.b, \"c\"", want: []found{{KindDropTable, "a"}, {KindDropTable, "s.b"}, {KindDropTable, "c"}}},
		{sql: "DROP /* really */ TABLE -- yes\n t", want: []found{{KindDropTable, "t"}}},
		{sql: "DROP TEMPORARY TABLE IF EXISTS scratch"},
		{sql: "DROP VIEW v; DROP INDEX i; DROP SEQUENCE s; DROP TYPE e; DROP FUNCTION f()"},
		{sql: "DROP MATERIALIZED VIEW mv; DROP TRIGGER tr"},

		// DROP SCHEMA / DATABASE
		{sql: "DROP SCHEMA IF EXISTS reporting CASCADE", want: []found{{KindDropSchema, "reporting"}}},
		{sql: "DROP SCHEMA a, b", want: []found{{KindDropSchema, "a"}, {KindDropSchema, "b"}}},
		{sql: "drop database `shop`", engine: DialectMySQL, want: []found{{KindDropDatabase, "shop"}}},
		{sql: "DROP DATABASE IF EXISTS old_app", want: []found{{KindDropDatabase, "old_app"}}},

		// ALTER TABLE ... DROP
		{sql: "ALTER TABLE users DROP COLUMN email", want: []found{{KindDropColumn, "users.email"}}},
		{sql: "ALTER TABLE users DROP email", want: []found{{KindDropColumn, "users.email"}}},
		{sql: "ALTER TABLE IF EXISTS ONLY public.users DROP COLUMN IF EXISTS \"Email\" CASCADE", want: []found{{KindDropColumn, "public.users.Email"}}},
		{sql: "ALTER TABLE `users` DROP `e`, ADD COLUMN f int, DROP COLUMN g", engine: DialectMySQL,
			want: []found{{KindDropColumn, "users.e"}, {KindDropColumn, "users.g"}}},
		{sql: "ALTER TABLE t ADD CONSTRAINT c CHECK (a IN (1, 2)), DROP COLUMN b", want: []found{{KindDropColumn, "t.b"}}},
		{sql: "ALTER TABLE t DROP CONSTRAINT t_pkey"},
		{sql: "ALTER TABLE t DROP CONSTRAINT IF EXISTS fk, DROP INDEX i, DROP KEY k, DROP PRIMARY KEY, DROP FOREIGN KEY f, DROP CHECK c"},
		{sql: "ALTER TABLE t ALTER COLUMN a DROP DEFAULT, ALTER COLUMN b DROP NOT NULL, ALTER c DROP DEFAULT"},
		{sql: "ALTER TABLE t ALTER COLUMN id DROP IDENTITY IF EXISTS"},
		{sql: "ALTER TABLE t ADD COLUMN drop_at timestamp, RENAME COLUMN a TO b"},
		{sql: "ALTER TABLE t RENAME COLUMN \"drop\" TO dropped"},
		{sql: "ALTER INDEX i RENAME TO j; ALTER VIEW v RENAME TO w"},
		{sql: "ALTER ONLINE IGNORE TABLE t DROP COLUMN c", engine: DialectMariaDB, want: []found{{KindDropColumn, "t.c"}}},

		// TRUNCATE
		{sql: "TRUNCATE users", want: []found{{KindTruncate, "users"}}},
		{sql: "truncate table ONLY a, b * RESTART IDENTITY CASCADE", want: []found{{KindTruncate, "a"}, {KindTruncate, "b"}}},
		{sql: "TRUNCATE TABLE `log`", engine: DialectMySQL, want: []found{{KindTruncate, "log"}}},

		// DELETE
		{sql: "DELETE FROM sessions", want: []found{{KindDeleteWithoutWhere, "sessions"}}},
		{sql: "delete from ONLY s.sessions returning id", want: []found{{KindDeleteWithoutWhere, "s.sessions"}}},
		{sql: "DELETE FROM t WHERE id = 1"},
		{sql: "DELETE FROM t\nwhere\nid = 1"},
		{sql: "DELETE FROM t WHERE id IN (SELECT id FROM u WHERE u.gone)"},
		{sql: "DELETE FROM t USING u WHERE t.id = u.id"},
		{sql: "DELETE FROM t WHERE CURRENT OF c"},
		{sql: "DELETE FROM t ORDER BY id LIMIT 10", engine: DialectMySQL, want: []found{{KindDeleteWithoutWhere, "t"}}},
		{sql: "DELETE FROM t USING u", want: []found{{KindDeleteWithoutWhere, "t"}}},
		{sql: "DELETE FROM t -- WHERE id = 1", want: []found{{KindDeleteWithoutWhere, "t"}}},
		{sql: "DELETE FROM t /* WHERE id = 1 */", want: []found{{KindDeleteWithoutWhere, "t"}}},
		{sql: "DELETE FROM \"where\"", want: []found{{KindDeleteWithoutWhere, "where"}}},
		{sql: "DELETE FROM t RETURNING (SELECT 1 WHERE true)", want: []found{{KindDeleteWithoutWhere, "t"}}},
		{sql: "DELETE LOW_PRIORITY QUICK IGNORE FROM t", engine: DialectMySQL, want: []found{{KindDeleteWithoutWhere, "t"}}},
		{sql: "DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.gone", engine: DialectMySQL},
		{sql: "WITH old AS (SELECT id FROM t WHERE stale) DELETE FROM t", want: []found{{KindDeleteWithoutWhere, "t"}}},
		{sql: "WITH old AS (SELECT id FROM t) DELETE FROM t WHERE id IN (SELECT id FROM old)"},

		// UPDATE
		{sql: "UPDATE t SET a = 1", want: []found{{KindUpdateWithoutWhere, "t"}}},
		{sql: "UPDATE t SET a = 'where'", want: []found{{KindUpdateWithoutWhere, "t"}}},
		{sql: "UPDATE t SET a = (SELECT b FROM u WHERE u.id = t.id)", want: []found{{KindUpdateWithoutWhere, "t"}}},
		{sql: "UPDATE t SET \"where\" = 1", want: []found{{KindUpdateWithoutWhere, "t"}}},
		{sql: "UPDATE t SET a = 1 WHERE b IS NULL"},
		{sql: "update `t` set a = 1 # where id = 1", engine: DialectMySQL, want: []found{{KindUpdateWithoutWhere, "t"}}},
		{sql: "UPDATE t SET a = u.a FROM u WHERE t.id = u.id"},
		{sql: "UPDATE LOW_PRIORITY IGNORE t SET a = 1", engine: DialectMySQL, want: []found{{KindUpdateWithoutWhere, "t"}}},
		{sql: "UPDATE ONLY s.t SET a = 1", want: []found{{KindUpdateWithoutWhere, "s.t"}}},

		// Not destructive: the keywords are data, names, comments or inside
		// other statements.
		{sql: "INSERT INTO t VALUES ('drop table x')"},
		{sql: "INSERT INTO t VALUES ('it''s; DROP TABLE x; --')"},
		{sql: "INSERT INTO t VALUES ('it\\'s; DROP TABLE x; --')", engine: DialectMySQL},
		{sql: "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = excluded.a"},
		{sql: "INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = 2", engine: DialectMySQL},
		{sql: "SELECT * FROM \"DROP TABLE users\""},
		{sql: "SELECT 'TRUNCATE t', `DELETE FROM t` FROM dual", engine: DialectMySQL},
		{sql: "-- DROP TABLE users;\nSELECT 1"},
		{sql: "/* TRUNCATE t; */ CREATE TABLE drop_log (id int)"},
		{sql: "# DROP DATABASE app\nSELECT 1", engine: DialectMySQL},
		{sql: "CREATE FUNCTION purge() RETURNS void AS $$ DELETE FROM t; DROP TABLE u; $$ LANGUAGE sql"},
		{sql: "CREATE TRIGGER tr AFTER INSERT ON a BEGIN DELETE FROM b; END", engine: DialectSQLite},
		{sql: "CREATE TABLE t (id int, deleted bool, updated_at timestamp)"},
		{sql: "CREATE INDEX drop_idx ON t (truncate_col)"},
		{sql: "COMMENT ON TABLE t IS 'DROP TABLE t'"},
		{sql: "WITH x AS (DELETE FROM t WHERE old RETURNING *) SELECT count(*) FROM x"},

		// Several statements: each is checked on its own.
		{
			sql:  "CREATE TABLE a (id int);\nUPDATE a SET id = 1 WHERE id = 0;\nDROP TABLE b;\nDELETE FROM c;",
			want: []found{{KindDropTable, "b"}, {KindDeleteWithoutWhere, "c"}},
		},
		// The WHERE of one statement does not cover the next.
		{sql: "DELETE FROM t WHERE a = 1; DELETE FROM u", want: []found{{KindDeleteWithoutWhere, "u"}}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			g := NewWithT(t)
			stmts, err := SplitFor(tt.engine, tt.sql)
			g.Expect(err).NotTo(HaveOccurred())

			var got []found
			for _, f := range Destructive(stmts) {
				got = append(got, found{f.Kind, f.Object})
			}
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestDestructiveFindings(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []Finding
	}{
		{
			name: "drop table",
			sql:  "CREATE TABLE a (id int);\n\n-- gone\nDROP TABLE users;",
			want: []Finding{{
				Statement: 1, Line: 4, Kind: KindDropTable, Object: "users", Text: "DROP TABLE users",
				Message: `statement 2 (line 4) drops table "users": DROP TABLE users`,
			}},
		},
		{
			name: "drop columns",
			sql:  "ALTER TABLE s.users\n  DROP COLUMN email,\n  DROP phone;",
			want: []Finding{
				{
					Statement: 0, Line: 1, Kind: KindDropColumn, Object: "s.users.email", Text: "ALTER TABLE s.users DROP COLUMN email, DROP phone",
					Message: `statement 1 (line 1) drops column "email" of table "s.users": ALTER TABLE s.users DROP COLUMN email, DROP phone`,
				},
				{
					Statement: 0, Line: 1, Kind: KindDropColumn, Object: "s.users.phone", Text: "ALTER TABLE s.users DROP COLUMN email, DROP phone",
					Message: `statement 1 (line 1) drops column "phone" of table "s.users": ALTER TABLE s.users DROP COLUMN email, DROP phone`,
				},
			},
		},
		{
			name: "update without where",
			sql:  "UPDATE t SET a = 'where'",
			want: []Finding{{
				Statement: 0, Line: 1, Kind: KindUpdateWithoutWhere, Object: "t", Text: "UPDATE t SET a = 'where'",
				Message: `statement 1 (line 1) updates every row of "t" (UPDATE without WHERE): UPDATE t SET a = 'where'`,
			}},
		},
		{
			name: "delete without where",
			sql:  "DELETE FROM t",
			want: []Finding{{
				Statement: 0, Line: 1, Kind: KindDeleteWithoutWhere, Object: "t", Text: "DELETE FROM t",
				Message: `statement 1 (line 1) deletes every row of "t" (DELETE without WHERE): DELETE FROM t`,
			}},
		},
		{
			name: "others",
			sql:  "TRUNCATE t; DROP SCHEMA s; DROP DATABASE d; DROP TABLE",
			want: []Finding{
				{Statement: 0, Line: 1, Kind: KindTruncate, Object: "t", Text: "TRUNCATE t", Message: `statement 1 (line 1) truncates table "t": TRUNCATE t`},
				{Statement: 1, Line: 1, Kind: KindDropSchema, Object: "s", Text: "DROP SCHEMA s", Message: `statement 2 (line 1) drops schema "s": DROP SCHEMA s`},
				{Statement: 2, Line: 1, Kind: KindDropDatabase, Object: "d", Text: "DROP DATABASE d", Message: `statement 3 (line 1) drops database "d": DROP DATABASE d`},
				{Statement: 3, Line: 1, Kind: KindDropTable, Object: "", Text: "DROP TABLE", Message: `statement 4 (line 1) drops table ?: DROP TABLE`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			stmts, err := Split(tt.sql)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Destructive(stmts)).To(Equal(tt.want))
		})
	}
}

func TestDestructiveQuotesLongStatementsShort(t *testing.T) {
	g := NewWithT(t)
	sql := "DELETE FROM t" + strings.Repeat(" /* pad */ ", 3) + "RETURNING " + strings.Repeat("a, ", 100) + "b"
	stmts, err := Split(sql)
	g.Expect(err).NotTo(HaveOccurred())

	f := Destructive(stmts)
	g.Expect(f).To(HaveLen(1))
	g.Expect(f[0].Text).To(HavePrefix("DELETE FROM t RETURNING a, a,"))
	g.Expect(f[0].Text).To(HaveSuffix("..."))
	g.Expect([]rune(f[0].Text)).To(HaveLen(maxTextLen + len("...")))
	g.Expect(f[0].Message).To(HaveSuffix(f[0].Text))
}

func TestDestructiveOnStatementsBuiltByHand(t *testing.T) {
	g := NewWithT(t)
	f := Destructive([]Stmt{{Text: "SELECT 1;"}, {Text: "TRUNCATE -- all\n t;"}, {Text: "DROP TABLE 'unterminated"}})
	g.Expect(f).To(HaveLen(1))
	g.Expect(f[0].Statement).To(Equal(1))
	g.Expect(f[0].Message).To(Equal(`statement 2 truncates table "t": TRUNCATE t`))
}
