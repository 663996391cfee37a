package sqlstatic

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

const (
	pg      = DialectPostgreSQL
	my      = DialectMySQL
	mariadb = DialectMariaDB
	lite    = DialectSQLite
)

// gateCase is one script checked by a gate; want lists the kinds refused,
// one per violation, in order (nil: admitted).
type gateCase struct {
	engine Dialect
	schema string // "": the engine's usual own schema
	sql    string
	want   []Reach
}

func ownSchema(engine Dialect) string {
	switch engine {
	case my, mariadb:
		return "app"
	case lite:
		return "main"
	}
	return "public"
}

func runGateCases(t *testing.T, cases []gateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(string(tc.engine)+"/"+tc.sql, func(t *testing.T) {
			g := NewWithT(t)
			schema := tc.schema
			if schema == "" {
				schema = ownSchema(tc.engine)
			}
			vs, err := Gate{Schema: schema}.CheckScript(tc.engine, tc.sql)
			g.Expect(err).NotTo(HaveOccurred())
			var got []Reach
			for _, v := range vs {
				got = append(got, v.Reach)
				g.Expect(v.Message).NotTo(BeEmpty())
			}
			g.Expect(got).To(Equal(tc.want), "%v", vs)
		})
	}
}

func r(rs ...Reach) []Reach { return rs }

func TestGateAdmits(t *testing.T) {
	var cases []gateCase
	for _, engine := range []Dialect{pg, my, mariadb, lite} {
		for _, sql := range []string{
			"CREATE TABLE users (id int PRIMARY KEY, name text)",
			"UPDATE users SET a = 1 WHERE id = 2",
			"SELECT u.id FROM users u",
			"SELECT u.id, o.total FROM users u JOIN orders o ON u.id = o.user_id WHERE o.total > 1",
			"INSERT INTO users (id, name) SELECT o.id, o.name FROM orders o",
			"DELETE FROM sessions WHERE expires < 1",
			"CREATE INDEX users_name ON users (name)",
			"ALTER TABLE users ADD COLUMN grant_level int",
			"SELECT 'GRANT ALL ON *.* TO x', 'ATTACH DATABASE' FROM users -- GRANT",
			"/* CREATE ROLE evil */ SELECT 1",
			"SELECT count(*) FROM users WHERE extract(year FROM users.created) = 2020",
			"SELECT a IS DISTINCT FROM b.c FROM b",
			"CREATE VIEW v AS SELECT u.id, u.name FROM users u",
			"CREATE TABLE t2 AS SELECT a, b.c FROM b",
			"DROP TABLE users",
			"SELECT type, event FROM users ORDER BY type DESC, users.id",
		} {
			cases = append(cases, gateCase{engine: engine, sql: sql})
		}
	}
	cases = append(cases,
		gateCase{engine: pg, sql: "ALTER TABLE public.users ADD COLUMN x int"},
		gateCase{engine: pg, sql: "SELECT * FROM pg_catalog.pg_tables, information_schema.columns"},
		gateCase{engine: pg, sql: "SELECT pg_catalog.now(), public.my_fn(1)"},
		gateCase{engine: pg, sql: "CREATE TABLE t (id serial, u int REFERENCES public.users (id))"},
		gateCase{engine: pg, sql: "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET n = excluded.n"},
		gateCase{engine: pg, sql: "SELECT public.users.id FROM public.users"},
		gateCase{engine: pg, sql: "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on; SET statement_timeout = 0"},
		gateCase{engine: pg, sql: "SELECT set_config('app.tenant', '42', true)"},
		gateCase{engine: pg, sql: "COPY users FROM STDIN; COPY (SELECT 1) TO STDOUT"},
		gateCase{engine: pg, sql: "CREATE SCHEMA IF NOT EXISTS public"},
		gateCase{engine: pg, sql: "ALTER TABLE users ALTER COLUMN tags TYPE pg_catalog.text"},
		gateCase{engine: pg, sql: "SELECT nextval('public.users_id_seq'), nextval('users_id_seq')"},
		gateCase{engine: pg, sql: "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated = now();\n  RETURN NEW;\nEND\n$$"},
		gateCase{engine: pg, sql: "DO $$ BEGIN EXECUTE 'UPDATE users SET a = 1'; END $$"},
		gateCase{engine: pg, sql: "SELECT 'C:\\'"},
		gateCase{engine: pg, sql: "CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()"},
		gateCase{engine: my, sql: "INSERT INTO app.t (a) VALUES (1)"},
		gateCase{engine: my, sql: "INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE t.a = VALUES(a)"},
		gateCase{engine: my, sql: "/*!40101 SET NAMES utf8mb4 */; /*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */; LOCK TABLES `t` WRITE, app.u READ; UNLOCK TABLES"},
		gateCase{engine: my, sql: "USE app"},
		gateCase{engine: my, sql: "SELECT * FROM information_schema.tables WHERE table_schema = 'mysql'"},
		gateCase{engine: my, sql: "SELECT soname, engine FROM information_schema.routines WHERE definer = 'root@%' AND engine = 'FEDERATED'"},
		gateCase{engine: my, sql: "CREATE VIEW v AS SELECT r.definer FROM information_schema.routines r WHERE r.definer = 'a'"},
		gateCase{engine: my, sql: "CREATE TABLE t (id int) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"},
		gateCase{engine: my, sql: "SELECT 'a\\' GRANT', `b` FROM t"},
		gateCase{engine: mariadb, sql: "CREATE DEFINER=CURRENT_USER PROCEDURE p() BEGIN UPDATE t SET a = 1; END"},
		gateCase{engine: lite, sql: "PRAGMA foreign_keys = ON; PRAGMA main.table_info(users)"},
		gateCase{engine: lite, sql: "INSERT INTO main.t VALUES (1); CREATE TEMP TABLE x (a); SELECT * FROM temp.x"},
		gateCase{engine: lite, sql: "VACUUM"},
		gateCase{engine: lite, sql: "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.id); END"},
		gateCase{engine: lite, sql: "SELECT [grant] FROM t"},
	)
	runGateCases(t, cases)
}

func TestGateRefuses(t *testing.T) {
	all := []Dialect{pg, my, mariadb, lite}
	var cases []gateCase
	for _, engine := range all {
		cases = append(cases,
			gateCase{engine: engine, sql: "GRANT SELECT ON users TO reader", want: r(ReachPrivilege)},
			gateCase{engine: engine, sql: "revoke all on users from reader", want: r(ReachPrivilege)},
			gateCase{engine: engine, sql: "CREATE ROLE evil SUPERUSER", want: r(ReachRole)},
			gateCase{engine: engine, sql: "  /* x */ create\n\tUSER evil", want: r(ReachRole)},
			gateCase{engine: engine, sql: "DROP USER bob", want: r(ReachRole)},
			gateCase{engine: engine, sql: "CREATE DATABASE other", want: r(ReachSystem)},
			gateCase{engine: engine, sql: "DROP DATABASE prod", want: r(ReachSystem)},
			gateCase{engine: engine, sql: "ATTACH DATABASE '/x.db' AS other", want: r(ReachSystem)},
			gateCase{engine: engine, sql: "SELECT load_extension('x')", want: r(ReachSystem)},
			gateCase{engine: engine, sql: "SELECT * FROM users; SELECT dblink_exec('host=x', 'DROP TABLE y')", want: r(ReachForeign)},
			gateCase{engine: engine, sql: "SET ROLE postgres", want: r(ReachSession)},
		)
	}
	cases = append(cases,
		// PostgreSQL
		gateCase{engine: pg, sql: "ALTER ROLE app SUPERUSER", want: r(ReachRole)},
		gateCase{engine: pg, sql: "CREATE GROUP admins", want: r(ReachRole)},
		gateCase{engine: pg, sql: "REASSIGN OWNED BY a TO b", want: r(ReachRole)},
		gateCase{engine: pg, sql: "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO x", want: r(ReachPrivilege)},
		gateCase{engine: pg, sql: "ALTER SYSTEM SET work_mem = '1GB'", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "CREATE EXTENSION IF NOT EXISTS postgres_fdw", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "DROP EXTENSION hstore", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "LOAD 'auto_explain'", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "CREATE TRUSTED LANGUAGE plx", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "CHECKPOINT", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "CREATE TABLESPACE t LOCATION '/data'", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "CREATE FUNCTION f() RETURNS int AS '/lib/evil.so', 'f' LANGUAGE C", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS $$ import os $$", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "COPY t FROM PROGRAM 'id'", want: r(ReachFile)},
		gateCase{engine: pg, sql: "COPY (SELECT 1) TO '/tmp/x'", want: r(ReachFile)},
		gateCase{engine: pg, sql: "SELECT pg_read_file('/etc/passwd')", want: r(ReachFile)},
		gateCase{engine: pg, sql: "SELECT pg_advisory_unlock_all()", want: r(ReachSession)},
		gateCase{engine: pg, sql: "SELECT pg_catalog.pg_advisory_unlock(1, 2)", want: r(ReachSession)},
		gateCase{engine: pg, sql: "SELECT pg_try_advisory_lock(42)", want: r(ReachSession)},
		gateCase{engine: my, sql: "SELECT RELEASE_ALL_LOCKS()", want: r(ReachSession)},
		gateCase{engine: my, sql: "DO RELEASE_LOCK('kube_shift_0123456789abcdef')", want: r(ReachSession)},
		gateCase{engine: my, sql: "INSERT INTO t VALUES (GET_LOCK('x', 0))", want: r(ReachSession)},
		gateCase{engine: pg, sql: `SELECT "pg_catalog"."pg_ls_dir"('.')`, want: r(ReachFile)},
		gateCase{engine: pg, sql: "SELECT * FROM pg_stat_file('x')", want: r(ReachFile)},
		gateCase{engine: pg, sql: "SELECT lo_import('/etc/passwd'), lo_export(1, '/tmp/x')", want: r(ReachFile)},
		gateCase{engine: pg, sql: "CREATE OPERATOR ### (RIGHTARG = text, PROCEDURE = pg_catalog.pg_read_file)", want: r(ReachFile)},
		gateCase{engine: pg, sql: "CREATE CAST (text AS host) WITH FUNCTION dblink_exec", want: r(ReachForeign)},
		gateCase{engine: pg, sql: "CREATE SERVER prod FOREIGN DATA WRAPPER postgres_fdw", want: r(ReachForeign)},
		gateCase{engine: pg, sql: "CREATE FOREIGN TABLE ft (a int) SERVER prod", want: r(ReachForeign)},
		gateCase{engine: pg, sql: "CREATE USER MAPPING FOR app SERVER prod", want: r(ReachForeign)},
		gateCase{engine: pg, sql: "IMPORT FOREIGN SCHEMA public FROM SERVER prod INTO public", want: r(ReachForeign)},
		gateCase{engine: pg, sql: "SELECT * FROM dblink('host=prod', 'SELECT 1') AS t(a int)", want: r(ReachForeign)},
		gateCase{engine: pg, sql: "SET SESSION AUTHORIZATION postgres", want: r(ReachSession)},
		gateCase{engine: pg, sql: "RESET ROLE", want: r(ReachSession)},
		gateCase{engine: pg, sql: "SET search_path TO other, public", want: r(ReachSession)},
		gateCase{engine: pg, sql: "SET LOCAL search_path = other", want: r(ReachSession)},
		gateCase{engine: pg, sql: "SET SCHEMA 'other'", want: r(ReachSession)},
		gateCase{engine: pg, sql: "SELECT pg_catalog.set_config('search_path', '', false)", want: r(ReachSession)},
		gateCase{engine: pg, sql: "SET client_encoding = 'SJIS'", want: r(ReachSession)},
		gateCase{engine: pg, sql: "UPDATE other.users SET a = 1 WHERE id = 2", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "ALTER TABLE public.users ADD COLUMN x int", schema: "app", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "SELECT * FROM users u JOIN audit.log l ON l.uid = u.id", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "SELECT * FROM users WHERE id IN (SELECT uid FROM audit.log)", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "SELECT other.fn(1)", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "SELECT audit.log.id FROM users", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "CREATE SCHEMA audit", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "ALTER TABLE users SET SCHEMA audit", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "CREATE INDEX i ON audit.log (uid)", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "CREATE TABLE t (LIKE audit.log INCLUDING ALL)", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "TRUNCATE users, audit.log", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "DROP TABLE users, audit.log", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "LOCK audit.log IN ACCESS EXCLUSIVE MODE", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "SELECT nextval('audit.seq')", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "WITH x AS (DELETE FROM audit.log RETURNING *) SELECT 1", want: r(ReachOtherSchema)},
		// PostgreSQL: SQL inside strings
		gateCase{engine: pg, sql: "DO $$ BEGIN EXECUTE 'CREATE ROLE x SUPERUSER'; END $$", want: r(ReachRole)},
		gateCase{engine: pg, sql: "DO 'BEGIN GRANT ALL ON users TO x; END'", want: r(ReachPrivilege)},
		gateCase{engine: pg, sql: "DO LANGUAGE plpgsql $body$ BEGIN PERFORM pg_read_file('/etc/passwd'); END $body$", want: r(ReachFile)},
		gateCase{engine: pg, sql: "DO $$ BEGIN EXECUTE format('CREATE ROLE %I', 'x'); END $$", want: r(ReachRole)},
		gateCase{engine: pg, sql: "DO $$ BEGIN EXECUTE 'GRANT ' || 'ALL ON t TO x'; END $$", want: r(ReachPrivilege)},
		gateCase{engine: pg, sql: "DO $a$ BEGIN EXECUTE $b$ DO $c$ BEGIN EXECUTE 'ALTER SYSTEM SET x = 1'; END $c$ $b$; END $a$", want: r(ReachSystem)},
		gateCase{engine: pg, sql: "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'COPY t TO ''/tmp/x'''", want: r(ReachFile)},
		gateCase{engine: pg, sql: "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN IF true THEN SET ROLE postgres; END IF; END $$", want: r(ReachSession)},
		gateCase{engine: pg, sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC UPDATE audit.log SET a = 1; SELECT 1; END", want: r(ReachOtherSchema)},
		gateCase{engine: pg, sql: "SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, false, '')", want: r(ReachFile)},
		gateCase{engine: pg, sql: "DO $$ BEGIN EXECUTE E'\\x43REATE ROLE x'; END $$", want: r(ReachRole)},
		// PostgreSQL lexing: what the server runs, not what a naive reading sees.
		gateCase{engine: pg, sql: "SELECT E'\\'', pg_read_file('/etc/passwd') --'", want: r(ReachFile)},
		gateCase{engine: pg, sql: "SELECT 1 /* /* */ ' */, pg_read_file('x') -- '", want: r(ReachFile)},
		gateCase{engine: pg, sql: "SELECT 1 --x\r, pg_read_file('x')", want: r(ReachFile, "")}, // "": the lone carriage return, which no setting allows
		gateCase{engine: pg, sql: "SELECT '\\'' , pg_read_file('x') --'", want: r(ReachFile)},  // standard_conforming_strings off
		gateCase{engine: pg, sql: "SELECT `, pg_read_file('x') -- `", want: r(ReachFile)},

		// MySQL and MariaDB
		gateCase{engine: my, sql: "RENAME USER a TO b", want: r(ReachRole)},
		gateCase{engine: my, sql: "SET PASSWORD FOR root = 'x'", want: r(ReachRole)},
		gateCase{engine: my, sql: "SET DEFAULT ROLE admin TO app", want: r(ReachRole)},
		gateCase{engine: my, sql: "CREATE DEFINER=`root`@`%` VIEW v AS SELECT 1", want: r(ReachPrivilege)},
		gateCase{engine: my, sql: "SET GLOBAL max_connections = 1", want: r(ReachSystem)},
		gateCase{engine: my, sql: "SET PERSIST local_infile = 1", want: r(ReachSystem)},
		gateCase{engine: my, sql: "SET @@global.general_log = 1", want: r(ReachSystem)},
		gateCase{engine: my, sql: "SET sql_mode = '', GLOBAL read_only = 0", want: r(ReachSystem)},
		gateCase{engine: my, sql: "SET @@SESSION.SQL_LOG_BIN = 0", want: r(ReachSystem)},
		gateCase{engine: my, sql: "INSTALL PLUGIN x SONAME 'x.so'", want: r(ReachSystem)},
		gateCase{engine: my, sql: "INSTALL COMPONENT 'file://component_x'", want: r(ReachSystem)},
		gateCase{engine: my, sql: "CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'", want: r(ReachSystem)},
		gateCase{engine: my, sql: "CREATE SCHEMA other", want: r(ReachSystem)},
		gateCase{engine: my, sql: "FLUSH PRIVILEGES", want: r(ReachSystem)},
		gateCase{engine: my, sql: "KILL 42", want: r(ReachSystem)},
		gateCase{engine: my, sql: "LOAD DATA INFILE '/etc/passwd' INTO TABLE t", want: r(ReachFile)},
		gateCase{engine: my, sql: "LOAD DATA LOCAL INFILE 'x' INTO TABLE t", want: r(ReachFile)},
		gateCase{engine: my, sql: "LOAD XML INFILE 'x' INTO TABLE t", want: r(ReachFile)},
		gateCase{engine: my, sql: "SELECT * INTO OUTFILE '/tmp/x' FROM t", want: r(ReachFile)},
		gateCase{engine: my, sql: "SELECT a FROM t INTO DUMPFILE '/tmp/x'", want: r(ReachFile)},
		gateCase{engine: my, sql: "INSERT INTO t (a) VALUES (LOAD_FILE('/etc/passwd'))", want: r(ReachFile)},
		gateCase{engine: my, sql: "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'prod')", want: r(ReachForeign)},
		gateCase{engine: my, sql: "CREATE TABLE f (a int) ENGINE=FEDERATED CONNECTION='mysql://u@prod/db/t'", want: r(ReachForeign)},
		gateCase{engine: my, sql: "ALTER TABLE f ENGINE = 'federated'", want: r(ReachForeign)},
		gateCase{engine: my, sql: "CREATE ALGORITHM=UNDEFINED /*!50013 DEFINER=`root`@`%` SQL SECURITY DEFINER */ VIEW v AS SELECT 1", want: r(ReachPrivilege)},
		gateCase{engine: mariadb, sql: "CREATE TABLE f (a int) ENGINE CONNECT", want: r(ReachForeign)},
		gateCase{engine: my, sql: "USE proddb", want: r(ReachSession)},
		gateCase{engine: my, sql: "SET NAMES gbk", want: r(ReachSession)},
		gateCase{engine: my, sql: "UPDATE proddb.users SET a = 1 WHERE id = 2", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "SELECT * FROM mysql.user", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "SELECT * FROM performance_schema.threads", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "SELECT * FROM t JOIN sys.session s ON 1 = 1", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "UPDATE t, `proddb`.`u` SET t.a = u.a", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "RENAME TABLE t TO proddb.t", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "ALTER TABLE t RENAME proddb.t", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "CREATE TABLE t LIKE proddb.t", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "SELECT proddb.fn(1)", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "DELETE t1 FROM t1 JOIN proddb.t2 ON t1.id = t2.id", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "PREPARE s FROM 'GRANT ALL ON *.* TO x'", want: r(ReachPrivilege)},
		gateCase{engine: mariadb, sql: "EXECUTE IMMEDIATE 'CREATE USER x'", want: r(ReachRole)},
		gateCase{engine: my, sql: "DELIMITER //\nCREATE PROCEDURE p() BEGIN GRANT ALL ON *.* TO x; END//\nDELIMITER ;\n", want: r(ReachPrivilege)},
		gateCase{engine: my, sql: "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW INSERT INTO proddb.log VALUES (1)", want: r(ReachOtherSchema)},
		gateCase{engine: my, sql: "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO GRANT ALL ON *.* TO x", want: r(ReachPrivilege)},
		// MySQL lexing: executable comments, `--` without a blank, and the
		// sql_mode that turns backslash escapes off.
		gateCase{engine: my, sql: "# x\n/*!50000 GRANT ALL ON *.* TO x */;\nSELECT 1", want: r(ReachPrivilege)},
		gateCase{engine: my, sql: "SELECT 1; /*!50000 GRANT ALL ON *.* TO x */ SELECT 2", want: nil}, // Atlas drops a leading comment: it never runs
		gateCase{engine: my, sql: "SELECT 1 /*!, LOAD_FILE('/etc/passwd') */", want: r(ReachFile)},
		gateCase{engine: my, sql: "SELECT 1 /*!99999 ' */, LOAD_FILE('/etc/passwd') -- '", want: r(ReachFile)},
		gateCase{engine: mariadb, sql: "SELECT 1 /*M!100100 , LOAD_FILE('/etc/passwd') */", want: r(ReachFile)},
		gateCase{engine: my, sql: "SELECT 1 --1, LOAD_FILE('/etc/passwd')", want: r(ReachFile)},
		gateCase{engine: my, sql: "SELECT 'a\\', LOAD_FILE('/etc/passwd') -- '", want: r(ReachFile)},
		gateCase{engine: my, sql: "SELECT `a\\`, LOAD_FILE('/etc/passwd'), `b` -- `", want: r(ReachFile)},

		// SQLite
		gateCase{engine: lite, sql: "attach '/tmp/x.db' as other", want: r(ReachSystem)},
		gateCase{engine: lite, sql: "DETACH DATABASE other", want: r(ReachSystem)},
		gateCase{engine: lite, sql: "VACUUM INTO '/tmp/x'", want: r(ReachSystem)},
		gateCase{engine: lite, sql: "VACUUM main INTO '/tmp/x'", want: r(ReachSystem)},
		gateCase{engine: lite, sql: "PRAGMA writable_schema = 1", want: r(ReachSystem)},
		gateCase{engine: lite, sql: "PRAGMA other.table_info(t)", want: r(ReachOtherSchema)},
		gateCase{engine: lite, sql: "INSERT INTO other.t VALUES (1)", want: r(ReachOtherSchema)},
		gateCase{engine: lite, sql: "UPDATE OR IGNORE other.t SET a = 1", want: r(ReachOtherSchema)},
		gateCase{engine: lite, sql: "SELECT * FROM t JOIN other.u USING (id)", want: r(ReachOtherSchema)},
		gateCase{engine: lite, sql: "SELECT [a'b], load_extension('x') -- '", want: r(ReachSystem)},
		gateCase{engine: lite, sql: "SELECT $x(') , load_extension('y') --')", want: r(ReachSystem)},
		gateCase{engine: lite, sql: "SELECT readfile('/etc/passwd')", want: r(ReachFile)},

		// Several kinds in one statement, each once, in AllReaches order.
		gateCase{engine: pg, sql: "SELECT pg_read_file('x'), other.f(), dblink('a', 'b'), pg_ls_dir('.')",
			want: r(ReachFile, ReachForeign, ReachOtherSchema)},
	)
	runGateCases(t, cases)
}

func TestGateAllow(t *testing.T) {
	g := NewWithT(t)
	stmts, err := SplitFor(pg, "CREATE TABLE t (id int);\nGRANT SELECT ON t TO reader;\nCREATE ROLE r;\nCOPY t TO PROGRAM 'x';")
	g.Expect(err).NotTo(HaveOccurred())

	vs := Gate{Schema: "public"}.Check(pg, stmts)
	g.Expect(vs).To(HaveLen(3))
	g.Expect(vs[0]).To(Equal(Violation{Reach: ReachPrivilege, Statement: 1, Line: 2, Message: "statement 2 (line 2) grants or revokes privileges (GRANT): " +
		"role and privilege statements reach outside the migration's database; a platform administrator can allow them with --allow-sql=privilege"}))
	g.Expect(vs[1].Message).To(Equal("statement 3 (line 3) creates a role: role and privilege statements reach outside the migration's database; " +
		"a platform administrator can allow them with --allow-sql=role"))
	g.Expect(vs[2].Reach).To(Equal(ReachFile))
	g.Expect(vs[2].Statement).To(Equal(3))

	vs = Gate{Schema: "public", Allow: map[Reach]bool{ReachPrivilege: true, ReachFile: true}}.Check(pg, stmts)
	g.Expect(vs).To(HaveLen(1))
	g.Expect(vs[0].Reach).To(Equal(ReachRole))

	all := map[Reach]bool{}
	for _, r := range AllReaches {
		all[r] = true
	}
	g.Expect(Gate{Allow: all}.Check(pg, stmts)).To(BeEmpty())
}

func TestGateOtherSchemaMessageNamesOwnSchemaOnly(t *testing.T) {
	g := NewWithT(t)
	stmts, err := SplitFor(my, "SELECT 1;\n\nUPDATE `secret_db_name`.users SET password = 'hunter2' WHERE id = 1")
	g.Expect(err).NotTo(HaveOccurred())
	vs := Gate{Schema: "app"}.Check(my, stmts)
	g.Expect(vs).To(HaveLen(1))
	g.Expect(vs[0].Message).To(Equal(`statement 2 (line 3) names a table in another schema or database: names qualified by anything but "app" or a built-in catalog ` +
		`reach outside the migration's schema; a platform administrator can allow them with --allow-sql=other-schema`))

	vs = Gate{}.Check(my, stmts)
	g.Expect(vs[0].Message).To(ContainSubstring("names qualified by anything but a built-in catalog"))
}

// TestGateMessagesDoNotQuoteSQL: the SQL may come from a Secret.
func TestGateMessagesDoNotQuoteSQL(t *testing.T) {
	for _, engine := range []Dialect{pg, my, mariadb, lite, ""} {
		for _, sql := range gateSeeds {
			stmts, err := SplitFor(engine, sql)
			if err != nil {
				continue
			}
			for _, v := range (Gate{Schema: "app"}).Check(engine, stmts) {
				for _, secret := range []string{"hunter2", "s3cr3t", "/etc/passwd", "proddb", "evil"} {
					if strings.Contains(v.Message, secret) {
						t.Errorf("%s: %q: message quotes the SQL: %s", engine, sql, v.Message)
					}
				}
			}
		}
	}
}

func TestGateRefusesWhatItCannotRead(t *testing.T) {
	g := NewWithT(t)
	// A statement built by hand that lexes in no dialect.
	vs := Gate{}.Check(pg, []Stmt{{Text: "SELECT 'unterminated", Line: 4}})
	g.Expect(vs).To(HaveLen(1))
	g.Expect(vs[0].Reach).To(BeEmpty())
	g.Expect(vs[0].Message).To(HavePrefix("statement 1 (line 4) cannot be read"))

	// Allowing every kind does not let it through.
	all := map[Reach]bool{}
	for _, r := range AllReaches {
		all[r] = true
	}
	g.Expect(Gate{Allow: all}.Check(pg, []Stmt{{Text: "SELECT 'unterminated"}})).To(HaveLen(1))

	// Nor SQL nested in strings deeper than the gate follows.
	nested := "DO $a$ BEGIN EXECUTE $b$ DO $c$ BEGIN EXECUTE $d$ DO $e$ BEGIN NULL; END $e$ $d$; END $c$ $b$; END $a$"
	stmts, err := SplitFor(pg, nested)
	g.Expect(err).NotTo(HaveOccurred())
	vs = Gate{Allow: all}.Check(pg, stmts)
	g.Expect(vs).To(HaveLen(1))
	g.Expect(vs[0].Message).To(ContainSubstring("too deeply"))
}

func TestParseReaches(t *testing.T) {
	g := NewWithT(t)
	allow, err := ParseReaches("role, privilege,,OTHER-SCHEMA")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(allow).To(Equal(map[Reach]bool{ReachRole: true, ReachPrivilege: true, ReachOtherSchema: true}))

	allow, err = ParseReaches("")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(allow).To(BeEmpty())

	_, err = ParseReaches("role,superuser")
	g.Expect(err).To(MatchError(`unknown kind of SQL "superuser": the kinds are role, privilege, system, file, foreign, session, other-schema`))
}

// TestGateCostIsBounded: admission runs the gate on whatever it is sent.
// Statements whose shapes would make the rules quadratic are refused once
// they have cost their budget; ordinary large ones are read in full.
func TestGateCostIsBounded(t *testing.T) {
	versions := "SELECT 1 "
	for i := range 15 {
		versions += fmt.Sprintf("/*!%05d , %d */ ", 10000+i, i)
	}
	for _, tc := range []struct {
		name, sql string
		refused   bool
	}{
		{name: "many rows", sql: "INSERT INTO t VALUES " + strings.Repeat("(1, 'abc', 2.5, NULL), ", 2000) + "(1, 'a', 1, NULL)"},
		{name: "many tables", sql: "SELECT * FROM " + strings.Repeat("a JOIN b USING (id), ", 2000) + "c"},
		{name: "deep parentheses", sql: "SELECT " + strings.Repeat("(", 10000) + "1" + strings.Repeat(")", 10000)},
		{name: "many server versions", sql: versions + strings.Repeat("a, ", 3000) + "b"},
		{name: "DO after DO", sql: strings.Repeat("DO ", 10000), refused: true},
		{name: "SET after SET", sql: strings.Repeat("THEN SET a = 1 ", 4000), refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			for _, engine := range []Dialect{pg, my, mariadb, lite, ""} {
				start := time.Now()
				vs := Gate{Schema: "app"}.Check(engine, []Stmt{{Text: tc.sql}})
				g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second), "%s", engine)
				if tc.refused {
					g.Expect(vs).To(ConsistOf(HaveField("Message", ContainSubstring("too large or convoluted"))), "%s", engine)
				} else {
					g.Expect(vs).To(BeEmpty(), "%s", engine)
				}
			}
		})
	}
}

// TestGateCheckScript: a statement the engine's split drops as a comment
// but Atlas's generic split sends to the server is checked too.
func TestGateCheckScript(t *testing.T) {
	g := NewWithT(t)
	script := "CREATE TABLE t (id int);\n# note\n/*!50000 GRANT ALL ON *.* TO evil */;\nGRANT SELECT ON t TO reader;"
	stmts, err := SplitFor(my, script)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stmts).To(HaveLen(2), "the MySQL split drops the commented GRANT")
	g.Expect(Gate{Schema: "app"}.Check(my, stmts)).To(HaveLen(1))

	vs, err := Gate{Schema: "app"}.CheckScript(my, script)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vs).To(HaveLen(2))
	g.Expect(vs[0].Line).To(Equal(4)) // the engine's split first; the GRANT on line 4 is reported once
	g.Expect(vs[1].Line).To(Equal(2))
	g.Expect(vs[1].Reach).To(Equal(ReachPrivilege))

	// A hand-built statement is read as the server reads it.
	g.Expect(Gate{}.Check(my, []Stmt{{Text: "/*!50000 GRANT ALL ON *.* TO evil */"}})).To(HaveLen(1))

	_, err = Gate{}.CheckScript(pg, "SELECT 'unterminated")
	g.Expect(err).To(HaveOccurred())
}
