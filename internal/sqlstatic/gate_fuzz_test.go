package sqlstatic

import (
	"slices"
	"strings"
	"testing"
)

// gateSeeds hold one statement of each refused kind, and a few the gate
// admits.
var gateSeeds = []string{
	"GRANT ALL ON users TO evil",
	"REVOKE SELECT ON users FROM app",
	"CREATE ROLE evil SUPERUSER",
	"CREATE USER evil IDENTIFIED BY 's3cr3t'",
	"ALTER SYSTEM SET work_mem = '1GB'",
	"SET GLOBAL max_connections = 1",
	"INSTALL PLUGIN x SONAME 'x.so'",
	"CREATE EXTENSION postgres_fdw",
	"LOAD 'auto_explain'",
	"ATTACH DATABASE '/x.db' AS other",
	"DETACH DATABASE other",
	"VACUUM INTO '/tmp/x'",
	"PRAGMA writable_schema = 1",
	"SELECT load_extension('x')",
	"CHECKPOINT",
	"COPY t FROM PROGRAM 'id'",
	"COPY t TO '/etc/passwd'",
	"SELECT pg_read_file('/etc/passwd')",
	"LOAD DATA INFILE '/etc/passwd' INTO TABLE t",
	"SELECT * INTO OUTFILE '/tmp/x' FROM t",
	"SELECT LOAD_FILE('/etc/passwd')",
	"SELECT dblink_exec('host=proddb', 'DROP TABLE t')",
	"CREATE SERVER proddb FOREIGN DATA WRAPPER postgres_fdw",
	"IMPORT FOREIGN SCHEMA public FROM SERVER proddb INTO public",
	"CREATE TABLE f (a int) ENGINE=FEDERATED CONNECTION='mysql://proddb/t'",
	"SET ROLE postgres",
	"SET SESSION AUTHORIZATION postgres",
	"RESET ROLE",
	"SET search_path TO proddb",
	"USE proddb",
	"UPDATE proddb.users SET password = 'hunter2' WHERE id = 1",
	"SELECT * FROM mysql.user",
	"DO $$ BEGIN EXECUTE 'CREATE ROLE evil SUPERUSER'; END $$",
	"/*!50000 GRANT ALL ON *.* TO evil */",
	"SELECT E'\\'', pg_read_file('/etc/passwd') --'",
	"SELECT [a'b], load_extension('x') -- '",
	// Admitted.
	"CREATE TABLE users (id int PRIMARY KEY, name text)",
	"UPDATE users SET a = 1 WHERE id = 2",
	"SELECT u.id FROM users u",
	"INSERT INTO app.t VALUES (1)",
	"SELECT 'GRANT' FROM t -- GRANT\n",
}

var gateEngines = []Dialect{DialectPostgreSQL, DialectMySQL, DialectMariaDB, DialectSQLite, ""}

// refusedLeads are the leading keywords of refused kinds: a statement that
// starts with one of them, as the splitter reads it, is never admitted.
var refusedLeads = [][]string{
	{"GRANT"}, {"REVOKE"}, {"CREATE", "ROLE"}, {"CREATE", "USER"}, {"ALTER", "ROLE"}, {"ALTER", "USER"},
	{"DROP", "ROLE"}, {"DROP", "USER"}, {"ALTER", "SYSTEM"}, {"SET", "GLOBAL"}, {"INSTALL"}, {"CREATE", "EXTENSION"},
	{"CREATE", "DATABASE"}, {"DROP", "DATABASE"}, {"ATTACH"}, {"DETACH"}, {"CHECKPOINT"}, {"LOAD", "DATA"},
	{"CREATE", "SERVER"}, {"IMPORT", "FOREIGN"}, {"SET", "ROLE"}, {"SET", "SESSION", "AUTHORIZATION"},
	{"RESET", "ROLE"}, {"SET", "SEARCH_PATH"},
}

// isLead reports whether s is nothing but one of refusedLeads, which a
// message names as the kind of statement refused (SET SESSION
// AUTHORIZATION): naming the kind is not quoting the statement.
func isLead(s string) bool {
	words := strings.Fields(strings.ToUpper(s))
	for _, lead := range refusedLeads {
		if slices.Equal(words, lead) {
			return true
		}
	}
	return false
}

func FuzzGate(f *testing.F) {
	for _, s := range gateSeeds {
		f.Add(s)
	}
	all := map[Reach]bool{}
	for _, r := range AllReaches {
		all[r] = true
	}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, engine := range gateEngines {
			stmts, err := SplitFor(engine, sql)
			if err != nil {
				continue
			}
			g := Gate{Schema: "app"}
			refused := map[int]bool{}
			for _, v := range g.Check(engine, stmts) {
				if v.Statement < 0 || v.Statement >= len(stmts) || v.Message == "" || v.Line != stmts[v.Statement].Line {
					t.Fatalf("%s: malformed violation %#v", engine, v)
				}
				if s := stmts[v.Statement].Stripped; len(s) >= 24 && strings.Contains(v.Message, s) && !isLead(s) {
					t.Fatalf("%s: message quotes the statement: %s", engine, v.Message)
				}
				refused[v.Statement] = true
			}
			for _, v := range (Gate{Allow: all}).Check(engine, stmts) {
				if v.Reach != "" {
					t.Fatalf("%s: an allowed kind was refused: %#v", engine, v)
				}
			}
			for i, s := range stmts {
				if refused[i] {
					continue
				}
				if vs := g.Check(engine, []Stmt{s}); len(vs) > 0 {
					t.Fatalf("%s: statement %d admitted in its script but refused alone: %v", engine, i, vs)
				}
				toks, err := tokenize(s.Text, s.lex)
				if err != nil {
					t.Fatalf("%s: an admitted statement does not lex: %v", engine, err)
				}
				if lead := refusedLead(trimDelimiter(toks)); lead != "" {
					t.Fatalf("%s: admitted a statement that starts with %s: %q", engine, lead, s.Text)
				}
			}
		}
	})
}

// refusedLead returns the refused kind's leading keywords toks start with,
// or "" (and COPY ... FROM|TO PROGRAM).
func refusedLead(toks []token) string {
	for _, lead := range refusedLeads {
		c := &cursor{toks: toks}
		if c.accept(lead...) {
			return strings.Join(lead, " ")
		}
	}
	if len(toks) > 0 && toks[0].is("COPY") {
		for i := 1; i+1 < len(toks); i++ {
			if (toks[i].is("FROM") || toks[i].is("TO")) && toks[i+1].is("PROGRAM") {
				return "COPY ... PROGRAM"
			}
		}
	}
	return ""
}

// checkBothSplits is what CheckSplit must find: every statement of both
// splits read every way, a kind on the same line reported once.
func checkBothSplits(g Gate, engine Dialect, sql string, stmts []Stmt) []Violation {
	out := g.Check(engine, stmts)
	generic, err := Split(sql)
	if err != nil {
		return out
	}
	type key struct {
		reach Reach
		line  int
	}
	seen := map[key]bool{}
	for _, v := range out {
		seen[key{v.Reach, v.Line}] = true
	}
	for _, v := range g.Check(engine, generic) {
		if k := (key{v.Reach, v.Line}); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

// FuzzCheckSplit: CheckSplit, which skips what the engine's split has
// read already, finds what reading both splits every way finds.
func FuzzCheckSplit(f *testing.F) {
	f.Add(strings.Join(gateSeeds, ";\n") + ";")
	for _, s := range gateSeeds {
		f.Add(s + ";\nCREATE TABLE t (id int);")
	}
	f.Add("# x\n/*!50000 GRANT ALL ON *.* TO evil */;")
	f.Add("SELECT 'a\\'; GRANT ALL ON t TO evil; -- ';")
	f.Add("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; GRANT ALL ON t TO evil; $$ LANGUAGE sql;")
	f.Add("SELECT $a$; CREATE ROLE evil; $a$;\nSELECT 1;")
	// The same text, split alike, lexed apart: the generic splitter reads
	// a dollar-quoted string where SQLite reads a comment.
	f.Add("SELECT $a$ -- $a$, load_extension('x')\n;")
	// A costly tail MySQL reads as a # comment and the generic splitter as
	// code: reading every way runs out of the statement's budget.
	f.Add("SELECT " + strings.Repeat("1, ", 250) + "1 # " + strings.Repeat("DO ", 775) + "\n;")
	f.Add("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT load_extension('x'); END;")
	f.Fuzz(func(t *testing.T, sql string) {
		for _, engine := range gateEngines {
			stmts, err := SplitFor(engine, sql)
			if err != nil {
				continue
			}
			g := Gate{Schema: "app"}
			got, want := g.CheckSplit(engine, sql, stmts), checkBothSplits(g, engine, sql, stmts)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: CheckSplit found\n%v\nreading both splits every way finds\n%v", engine, got, want)
			}
		}
	})
}
