package planner_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// base is the schema every case starts from, with rows (two users share a
// name) so that data-dependent changes meet data.
const base = `
CREATE TABLE users (id int NOT NULL, name varchar(50) NOT NULL, email varchar(100), PRIMARY KEY (id));
CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id));
`

const rows = `
INSERT INTO users (id, name, email) VALUES (1, 'alice', 'a@example.com'), (2, 'bob', NULL), (3, 'alice', 'c@example.com');
INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'hello');
`

type planCase struct {
	name string
	// scripts (versioned) or desired (declarative, appended to base).
	scripts []perEngine
	desired perEngine
	// wantChanges must each be in the plan's changes.
	wantChanges []string
	wantCodes   []string
	noCodes     []string
	destructive bool
	// lossy plans lose data their rollback cannot bring back.
	lossy bool
	// check runs on the target after the apply.
	check func(t *testing.T, g Gomega, d *testDB)
}

var planCases = []planCase{{
	name:        "add column",
	scripts:     []perEngine{{"": "ALTER TABLE users ADD COLUMN age int;"}},
	wantChanges: []string{"add column users.age"},
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.columns(t, "users")).To(ContainElement("age"))
	},
}, {
	name:        "drop column",
	scripts:     []perEngine{{"": "ALTER TABLE users DROP COLUMN email;"}},
	wantChanges: []string{"drop column users.email"},
	wantCodes:   []string{"DS103"},
	destructive: true,
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.columns(t, "users")).NotTo(ContainElement("email"))
	},
}, {
	name:        "rename column in a script keeps the data",
	scripts:     []perEngine{{"": "ALTER TABLE users RENAME COLUMN name TO full_name;"}},
	wantChanges: []string{"rename column users.name to full_name"},
	wantCodes:   []string{"BC102"},
	noCodes:     []string{"DS103"},
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.queryString(t, "SELECT full_name FROM users WHERE id = 2")).To(Equal("bob"))
	},
}, {
	name:        "rename column declaratively is a drop and an add",
	desired:     perEngine{"": "CREATE TABLE users (id int NOT NULL, full_name varchar(50) NULL, email varchar(100), PRIMARY KEY (id)); CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id));"},
	wantChanges: []string{"drop column users.name", "add column users.full_name"},
	wantCodes:   []string{"DS103"},
	destructive: true,
	lossy:       true,
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.columns(t, "users")).To(ConsistOf("id", "full_name", "email"))
	},
}, {
	name: "alter column type",
	// SQLite compares type affinities only: text to integer.
	desired: perEngine{"sqlite": "CREATE TABLE users (id int NOT NULL, name int NOT NULL, email varchar(100), PRIMARY KEY (id)); CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id));",
		"": "CREATE TABLE users (id int NOT NULL, name varchar(200) NOT NULL, email varchar(100), PRIMARY KEY (id)); CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id));"},
	wantChanges: []string{"modify column users.name (type)"},
}, {
	name:        "index",
	desired:     perEngine{"": base + "CREATE INDEX users_name_idx ON users (name);"},
	wantChanges: []string{"add index users_name_idx on users"},
}, {
	name:        "unique index in a script",
	scripts:     []perEngine{{"": "CREATE UNIQUE INDEX users_email_key ON users (email);"}},
	wantChanges: []string{"add unique index users_email_key on users"},
	wantCodes:   []string{"MF101"},
}, {
	name: "foreign key",
	desired: perEngine{"": `CREATE TABLE users (id int NOT NULL, name varchar(50) NOT NULL, email varchar(100), PRIMARY KEY (id));
CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id), CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES users (id));`},
	wantChanges: []string{"add foreign key posts_user_fk on posts"},
	check: func(t *testing.T, g Gomega, d *testDB) {
		posts, _ := d.inspect(t).Table("posts")
		g.Expect(posts.ForeignKeys).To(HaveLen(1))
	},
}, {
	name: "check constraint",
	desired: perEngine{"": `CREATE TABLE users (id int NOT NULL, name varchar(50) NOT NULL, email varchar(100), PRIMARY KEY (id), CONSTRAINT users_id_positive CHECK (id > 0));
CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id));`},
	wantChanges: []string{"users"},
}, {
	name: "default change",
	desired: perEngine{"": `CREATE TABLE users (id int NOT NULL, name varchar(50) NOT NULL, email varchar(100) DEFAULT 'none', PRIMARY KEY (id));
CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id));`},
	wantChanges: []string{"modify column users.email (default)"},
}, {
	name:        "new table",
	scripts:     []perEngine{{"": "CREATE TABLE tags (id int NOT NULL, name varchar(30) NOT NULL, PRIMARY KEY (id));"}},
	wantChanges: []string{"create table tags"},
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.tables(t)).To(ContainElement("tags"))
	},
}, {
	name:        "drop table",
	scripts:     []perEngine{{"": "DROP TABLE posts;"}},
	wantChanges: []string{"drop table posts"},
	wantCodes:   []string{"DS102"},
	destructive: true,
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.tables(t)).To(ConsistOf("users"))
	},
}, {
	name:        "view in a script",
	scripts:     []perEngine{{"": "CREATE VIEW user_names AS SELECT id, name FROM users;"}},
	wantChanges: []string{"create view user_names"},
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.views(t)).To(ConsistOf("user_names"))
	},
}, {
	name:        "view declared",
	desired:     perEngine{"": base + "CREATE VIEW user_names AS SELECT id, name FROM users;"},
	wantChanges: []string{"create view user_names"},
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.views(t)).To(ConsistOf("user_names"))
	},
}, {
	name: "data script back-fills before NOT NULL",
	scripts: []perEngine{
		{"": "ALTER TABLE posts ADD COLUMN slug varchar(100);"},
		{"": "UPDATE posts SET slug = 'x';"},
	},
	wantChanges: []string{"add column posts.slug"},
	check: func(t *testing.T, g Gomega, d *testDB) {
		g.Expect(d.queryString(t, "SELECT slug FROM posts WHERE id = 1")).To(Equal("x"))
	},
}}

func (c planCase) input(e string) planner.Input {
	if c.desired != nil {
		return planner.Input{Desired: &planner.Desired{Format: planner.SchemaFormatSQL, Text: c.desired.for_(e)}}
	}
	var sqls []string
	for _, s := range c.scripts {
		sqls = append(sqls, s.for_(e))
	}
	return planner.Input{Scripts: scripts(sqls...)}
}

func TestPlanApplyReplan(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, tc := range planCases {
				t.Run(tc.name, func(t *testing.T) {
					g := NewWithT(t)
					ctx := context.Background()
					d := newTestDB(t, e)
					d.exec(t, base+rows)
					in := tc.input(e.name)
					pl := &planner.Planner{DevServers: dbtest.DevServers()}

					plan, err := pl.Plan(ctx, d.target, in)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(plan.Statements).NotTo(BeEmpty())
					g.Expect(plan.Hash).To(HavePrefix("sha256:"))
					for _, c := range tc.wantChanges {
						g.Expect(plan.Changes).To(ContainElement(ContainSubstring(c)))
					}
					var got []string
					for _, dg := range plan.Diagnostics {
						got = append(got, dg.Code)
					}
					for _, c := range tc.wantCodes {
						g.Expect(got).To(ContainElement(c), "diagnostics: %+v", plan.Diagnostics)
					}
					for _, c := range tc.noCodes {
						g.Expect(got).NotTo(ContainElement(c), "diagnostics: %+v", plan.Diagnostics)
					}
					g.Expect(plan.Destructive).To(Equal(tc.destructive), "changes %v diagnostics %+v", plan.Changes, plan.Diagnostics)
					g.Expect(plan.Rollback).NotTo(BeEmpty())

					again, err := pl.Plan(ctx, d.target, in)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(again.Hash).To(Equal(plan.Hash), "planning is deterministic")

					res, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "test", Approver: "alice"})
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(res.AlreadyApplied).To(BeFalse())
					if tc.check != nil {
						tc.check(t, g, d)
					}

					after, err := pl.Plan(ctx, d.target, in)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(after.Statements).To(BeEmpty(), "nothing left to do: %v", after.Statements)

					if tc.lossy {
						return
					}
					// The rollback takes the schema back to where it was.
					fresh := newTestDB(t, e)
					fresh.exec(t, base+rows)
					d.exec(t, joinStmts(plan.Rollback))
					g.Expect(d.tables(t)).To(ConsistOf(fresh.tables(t)))
					g.Expect(d.columns(t, "users")).To(ConsistOf(fresh.columns(t, "users")))
					g.Expect(d.views(t)).To(BeEmpty())
				})
			}
		})
	}
}

func joinStmts(stmts []string) string {
	out := ""
	for _, s := range stmts {
		out += s + ";\n"
	}
	return out
}
