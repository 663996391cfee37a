package sqlstatic

import (
	"testing"

	. "github.com/onsi/gomega"
)

// fills answers Atlas's back-fill question for column c of table t the
// way the planner asks it: every row, or exactly the rows where c IS NULL
// (value nil) or c = value.
func fills(d Dialect, stmt, c string, value *string) bool {
	u, ok := ParseUpdate(d, stmt)
	if !ok || !u.Updates("app", "users") || !u.Sets(c) {
		return false
	}
	if u.AllRows() {
		return true
	}
	if value == nil {
		return u.OnlyWhereNull(c)
	}
	return u.OnlyWhereEquals(c, *value)
}

func TestParseUpdateFills(t *testing.T) {
	empty, zero := "", "0"
	for _, tc := range []struct {
		name    string
		dialect Dialect
		stmt    string
		value   *string
		want    bool
	}{
		{"every row", DialectPostgreSQL, `UPDATE users SET "a" = 1;`, nil, true},
		{"the NULL rows", DialectPostgreSQL, `UPDATE users SET "a" = 1 WHERE "a" IS NULL`, nil, true},
		{"the NULL rows, qualified by the table", DialectMySQL, "UPDATE `users` SET `a` = 1 WHERE users.`a` IS NULL", nil, true},
		{"the NULL rows, qualified by an alias", DialectPostgreSQL, `UPDATE users AS u SET a = 1 WHERE u.a IS NULL`, nil, true},
		{"schema-qualified", DialectPostgreSQL, `UPDATE app.users SET a = 1`, nil, true},
		{"another schema", DialectPostgreSQL, `UPDATE other.users SET a = 1`, nil, false},
		{"another table", DialectPostgreSQL, `UPDATE pets SET a = 1`, nil, false},
		{"another column", DialectPostgreSQL, `UPDATE users SET b = 1`, nil, false},
		{"unquoted names fold", DialectPostgreSQL, `UPDATE USERS SET A = 1`, nil, true},
		{"quoted names do not", DialectPostgreSQL, `UPDATE users SET "A" = 1`, nil, false},
		{"set to NULL", DialectPostgreSQL, `UPDATE users SET a = NULL`, nil, false},
		{"one of several assignments", DialectMySQL, "UPDATE users SET name = 'Unknown', a = 0", nil, true},
		{"a subquery's WHERE is not the statement's", DialectPostgreSQL, `UPDATE users SET a = (SELECT max(id) FROM pets WHERE pets.x IS NULL)`, nil, true},
		{"some rows", DialectPostgreSQL, `UPDATE users SET a = 1 WHERE random() > 0.5`, nil, false},
		{"NOT NULL rows", DialectPostgreSQL, `UPDATE users SET a = 1 WHERE a IS NOT NULL`, nil, false},
		{"the NULL rows and more conditions", DialectPostgreSQL, `UPDATE users SET a = 1 WHERE a IS NULL AND id > 3`, nil, false},
		{"another column's NULL rows", DialectPostgreSQL, `UPDATE users SET a = 1 WHERE b IS NULL`, nil, false},
		{"a LIMIT", DialectMySQL, "UPDATE users SET a = 1 LIMIT 10", nil, false},
		{"a FROM", DialectPostgreSQL, `UPDATE users SET a = p.x FROM pets p WHERE p.id = users.id`, nil, false},
		{"a join", DialectMySQL, "UPDATE users JOIN pets ON pets.id = users.id SET users.a = 1", nil, false},
		{"SQLite's OR REPLACE", DialectSQLite, "UPDATE OR REPLACE users SET a = 1", nil, true},
		{"a tuple assignment is not read", DialectPostgreSQL, `UPDATE users SET (a, b) = (1, 2)`, nil, false},
		{"the rows MySQL set to ''", DialectMySQL, "UPDATE `users` SET `a` = CONCAT(\"name\", id) WHERE `a` = ''", &empty, true},
		{"the rows MySQL set to '', value first", DialectMySQL, "UPDATE users SET a = 'x' WHERE '' = a", &empty, true},
		{"the rows MySQL set to 0", DialectMySQL, "UPDATE users SET a = 7 WHERE a = 0", &zero, true},
		{"other rows than MySQL set", DialectMySQL, "UPDATE users SET a = 7 WHERE a = 1", &zero, false},
		{"NULL rows when MySQL set ''", DialectMySQL, "UPDATE `users` SET `a` = CONCAT(\"name\", id) WHERE `a` IS NULL", &empty, false},
		{"not an UPDATE", DialectPostgreSQL, `INSERT INTO users (a) VALUES (1)`, nil, false},
		{"a CTE first is not read", DialectPostgreSQL, `WITH x AS (SELECT 1) UPDATE users SET a = 1`, nil, false},
		{"does not lex", DialectPostgreSQL, `UPDATE users SET a = 'open`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(fills(tc.dialect, tc.stmt, "a", tc.value)).To(Equal(tc.want), tc.stmt)
		})
	}
}

func FuzzParseUpdate(f *testing.F) {
	for _, s := range append(fuzzSeeds, "UPDATE t SET a = 1 WHERE a IS NULL", "UPDATE s.t AS x SET x.a = 'v' WHERE 'v' = x.a LIMIT 1", "UPDATE t SET") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, d := range fuzzEngines {
			u, ok := ParseUpdate(d, sql)
			if !ok {
				continue
			}
			// Only that it answers without panicking.
			_ = u.Updates("s", "t") && u.Sets("a") && (u.AllRows() || u.OnlyWhereNull("a") || u.OnlyWhereEquals("a", ""))
		}
	})
}
