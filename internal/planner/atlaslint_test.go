package planner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// atlasLintCase is one of Atlas's own `atlas migrate lint` expectations
// for data-dependent changes (the cli-migrate-lint-modify-nullability and
// cli-migrate-lint-add-notnull scripts of its integration tests, per
// engine): the earlier files of a migration directory, the file linted,
// and the findings Atlas reports on it, as "L<line>: <text>". Our planner
// replays the same file on the same schema; its findings must be Atlas's,
// on the same lines.
type atlasLintCase struct {
	name string
	// base is the directory's earlier files, applied to the target.
	base string
	// files are the files linted, each a script; Atlas lints each alone.
	files []string
	want  []string
}

var atlasLintCases = map[string][]atlasLintCase{
	"postgres": {{
		name:  "modify nullability without a back-fill",
		base:  "CREATE TABLE users (id int);",
		files: []string{"ALTER TABLE users ADD COLUMN \"rank\" int NULL DEFAULT 1;\nALTER TABLE users ALTER COLUMN \"id\" SET NOT NULL;\n"},
		want:  []string{`L2: MF104 Modifying nullable column "id" to non-nullable might fail in case it contains NULL values`},
	}, {
		name: "back-fill of every row and of the NULL rows",
		base: "CREATE TABLE users (id int);",
		files: []string{`-- Add (a, b, c), backfill (a, b) and then modify all to not-null.
ALTER TABLE users ADD COLUMN "a" int, ADD COLUMN "b" int, ADD COLUMN "c" int;
UPDATE users SET "a" = 1;
UPDATE users SET "b" = 1 WHERE "b" IS NULL;
ALTER TABLE users ALTER COLUMN "a" SET NOT NULL, ALTER COLUMN "b" SET NOT NULL, ALTER COLUMN "c" SET NOT NULL;
`},
		want: []string{`L5: MF104 Modifying nullable column "c" to non-nullable might fail in case it contains NULL values`},
	}, {
		name:  "table created in the same file",
		files: []string{"CREATE TABLE users (id int);\nALTER TABLE users ALTER COLUMN \"id\" SET NOT NULL;\n"},
	}, {
		name: "back-fill of some rows only",
		base: "CREATE TABLE users (id int);\nCREATE TABLE pets (id int);",
		files: []string{`ALTER TABLE users ADD COLUMN name varchar(255), ADD COLUMN age float;
UPDATE users SET name = 'Unknown', age = 0;
-- No diagnostics.
ALTER TABLE users ALTER COLUMN name SET NOT NULL, ALTER COLUMN age SET NOT NULL;

ALTER TABLE pets ADD COLUMN name varchar(255), ADD COLUMN age float;
UPDATE pets SET name = 'Unknown', age = 0 WHERE random() > 0.5;
-- With diagnostics as statement above cannot be sure NULL values are back-filled.
ALTER TABLE pets ALTER COLUMN name SET NOT NULL, ALTER COLUMN age SET NOT NULL;
`},
		want: []string{
			`L9: MF104 Modifying nullable column "name" to non-nullable might fail in case it contains NULL values`,
			`L9: MF104 Modifying nullable column "age" to non-nullable might fail in case it contains NULL values`,
		},
	}},
	"mysql": {{
		name:  "modify nullability without a back-fill",
		base:  "CREATE TABLE users (id int);",
		files: []string{"ALTER TABLE users ADD COLUMN `rank` int NOT NULL DEFAULT 1;\nALTER TABLE users MODIFY COLUMN id int NOT NULL;\n"},
		want:  []string{`L2: MF104 Modifying nullable column "id" to non-nullable might fail in case it contains NULL values`},
	}, {
		name: "back-fill of every row and of the NULL rows",
		base: "CREATE TABLE users (id int);",
		files: []string{"-- Add (a, b, c), backfill (a, b) and then modify all to not-null.\n" +
			"ALTER TABLE users ADD COLUMN `a` int, ADD COLUMN `b` int, ADD COLUMN `c` int;\n" +
			"UPDATE users SET `a` = 1;\n" +
			"UPDATE users SET `b` = 1 WHERE `b` IS NULL;\n" +
			"ALTER TABLE users MODIFY COLUMN `a` int NOT NULL, MODIFY COLUMN `b` int NOT NULL, MODIFY COLUMN `c` int NOT NULL;\n"},
		want: []string{`L5: MF104 Modifying nullable column "c" to non-nullable might fail in case it contains NULL values`},
	}, {
		name:  "table created in the same file",
		files: []string{"CREATE TABLE users (id int);\nALTER TABLE users MODIFY COLUMN id int NOT NULL;\n"},
	}, {
		name: "back-fill of some rows only",
		base: "CREATE TABLE users (id int);\nCREATE TABLE pets (id int);",
		files: []string{`ALTER TABLE users ADD COLUMN name varchar(255), ADD COLUMN age float;
UPDATE users SET name = 'Unknown', age = 0;
-- No diagnostics.
ALTER TABLE users MODIFY COLUMN name varchar(255) NOT NULL, MODIFY COLUMN age float NOT NULL;

ALTER TABLE pets ADD COLUMN name varchar(255), ADD COLUMN age float;
UPDATE pets SET name = 'Unknown', age = 0 WHERE RAND() > 0.5;
-- With diagnostics as statement above cannot be sure NULL values are back-filled.
ALTER TABLE pets MODIFY COLUMN name varchar(255) NOT NULL, MODIFY COLUMN age float NOT NULL;
`},
		want: []string{
			`L9: MF104 Modifying nullable column "name" to non-nullable might fail in case it contains NULL values`,
			`L9: MF104 Modifying nullable column "age" to non-nullable might fail in case it contains NULL values`,
		},
	}, {
		name:  "add a NOT NULL column without a default",
		base:  "CREATE TABLE users (id int);",
		files: []string{"ALTER TABLE users ADD COLUMN `name` varchar(120) NOT NULL;\n"},
		want:  []string{`L1: MY101 Adding a non-nullable "varchar" column "name" on table "users" without a default value implicitly sets existing rows with ""`},
	}, {
		name:  "add a NOT NULL column, then fill every row",
		base:  "CREATE TABLE users (id int);",
		files: []string{"ALTER TABLE users ADD COLUMN `name` varchar(120) NOT NULL;\nUPDATE `users` SET `name` = \"all_the_same\";\n"},
	}, {
		name:  "add a NOT NULL column, then fill the rows it set implicitly",
		base:  "CREATE TABLE users (id varchar(36));",
		files: []string{"ALTER TABLE users ADD COLUMN `name` varchar(120) NOT NULL;\nUPDATE `users` SET `name` = CONCAT(\"name\", id) WHERE `name` = '';\n"},
	}, {
		name:  "add a NOT NULL column, then fill rows that cannot be NULL",
		base:  "CREATE TABLE users (id varchar(36));",
		files: []string{"ALTER TABLE users ADD COLUMN `name` varchar(120) NOT NULL;\n/* Nop update as existing rows were set to ''*/\nUPDATE `users` SET `name` = CONCAT(\"name\", id) WHERE `name` IS NULL;\n"},
		want:  []string{`L1: MY101 Adding a non-nullable "varchar" column "name" on table "users" without a default value implicitly sets existing rows with ""`},
	}, {
		name:  "auto-increment fills existing rows",
		base:  "CREATE TABLE users (name varchar(36));",
		files: []string{"-- Auto-increment fills existing rows.\nALTER TABLE users ADD COLUMN `id` bigint PRIMARY KEY AUTO_INCREMENT;\n"},
	}},
	"sqlite": {{
		name: "table rebuilt NOT NULL with a default",
		base: "CREATE TABLE `users` (`a` int NULL);",
		files: []string{`-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_users" table
CREATE TABLE ` + "`new_users` (`a` int NOT NULL DEFAULT 1);" + `
-- copy rows from old table "users" to new temporary table "new_users"
INSERT INTO ` + "`new_users` (`a`) SELECT IFNULL(`a`, 1) FROM `users`;" + `
-- Drop "users" table after copying rows
DROP TABLE ` + "`users`;" + `
-- Rename temporary table "new_users" to "users"
ALTER TABLE ` + "`new_users` RENAME TO `users`;" + `
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
`},
	}, {
		name: "table rebuilt NOT NULL without a default",
		base: "CREATE TABLE `users` (`a` int NULL);",
		files: []string{`-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_users" table
CREATE TABLE ` + "`new_users` (`a` int NOT NULL);" + `
-- Copy rows from old table "users" to new temporary table "new_users"
INSERT INTO ` + "`new_users` (`a`) SELECT `a` FROM `users`;" + `
-- Drop "users" table after copying rows
DROP TABLE ` + "`users`;" + `
-- Rename temporary table "new_users" to "users"
ALTER TABLE ` + "`new_users` RENAME TO `users`;" + `
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
`},
		want: []string{`L4: LT101 Modifying nullable column "a" to non-nullable without default value might fail in case it contains NULL values`},
	}, {
		name: "table rebuilt NOT NULL after a back-fill",
		base: "CREATE TABLE `users` (`a` int NULL);",
		files: []string{`-- Backfill previous rows
UPDATE ` + "`users` SET `a` = 1 WHERE `a` IS NULL;" + `
-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_users" table
CREATE TABLE ` + "`new_users` (`a` int NOT NULL);" + `
-- Copy rows from old table "users" to new temporary table "new_users"
INSERT INTO ` + "`new_users` (`a`) SELECT `a` FROM `users`;" + `
-- Drop "users" table after copying rows
DROP TABLE ` + "`users`;" + `
-- Rename temporary table "new_users" to "users"
ALTER TABLE ` + "`new_users` RENAME TO `users`;" + `
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
`},
	}, {
		name: "add NOT NULL columns, to a table of the same file and to an older one",
		files: []string{
			"CREATE TABLE users (id int);\n\n/* Adding a not-null column without default to a table created in this file should not report. */\nALTER TABLE users ADD COLUMN c1 int NOT NULL;\n",
			"ALTER TABLE users ADD COLUMN c2 int NOT NULL;\n\nALTER TABLE users ADD COLUMN c3 int NOT NULL DEFAULT 1;\n",
		},
		want: []string{`L1: MF103 Adding a non-nullable "int" column "c2" will fail in case table "users" is not empty`},
	}},
}

// TestDataDependentMatchesAtlas plans each of Atlas's cases and compares
// the data-dependent findings (MF10x and the engines' own codes for the
// same checks) with what `atlas migrate lint` reports.
func TestDataDependentMatchesAtlas(t *testing.T) {
	fresh := map[string]func(testing.TB) string{
		"sqlite":   func(tb testing.TB) string { return "sqlite://" + filepath.Join(tb.TempDir(), "lint.db") },
		"postgres": dbtest.NewPostgresDatabase,
		"mysql":    dbtest.NewMySQLDatabase,
	}
	for engineName, cases := range atlasLintCases {
		t.Run(engineName, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					g := NewWithT(t)
					d := newTestDB(t, engine{name: engineName, fresh: fresh[engineName]})
					if tc.base != "" {
						d.exec(t, tc.base)
					}
					pl := &planner.Planner{DevServers: dbtest.DevServers()}
					plan, err := pl.Plan(context.Background(), d.target, planner.Input{Scripts: scripts(tc.files...)})
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(dataDependent(plan)).To(Equal(tc.want), "all findings: %+v", plan.Diagnostics)
				})
			}
		})
	}
}

// dataDependent lists a plan's data-dependent findings as Atlas prints
// them: the line of the statement in its script, the code, the text.
func dataDependent(plan *planner.Plan) []string {
	var out []string
	for _, d := range plan.Diagnostics {
		switch d.Code {
		case "MF101", "MF102", "MF103", "MF104", "MY101", "LT101":
		default:
			continue
		}
		line := 0
		if d.Statement != nil {
			line = plan.Steps[*d.Statement].Line
		}
		out = append(out, fmt.Sprintf("L%d: %s %s", line, d.Code, d.Text))
	}
	return out
}
