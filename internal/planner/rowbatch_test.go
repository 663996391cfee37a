package planner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// Without transactional DDL, row changes run in batches, each in one
// transaction with its checkpoint: a failure takes its batch back and the
// revision records the statements before it, which are all that stays.
// Whatever in the schema a rollback may not take back (a MyISAM table,
// system-versioned or not, a sequence), or whose writes are not known (a
// trigger, a view), keeps the apply statement by statement, whether it was
// there before or the plan makes it.
func TestRowChangesRunInBatchesARollbackTakesBack(t *testing.T) {
	const rows, conflict = 2500, 1500
	inserts := func(from int) string {
		var b strings.Builder
		for id := from; id <= rows; id++ {
			fmt.Fprintf(&b, "INSERT INTO items (id, name) VALUES (%d, 'item %d');\n", id, id)
		}
		return b.String()
	}
	table := func(engine string) string {
		return "CREATE TABLE items (id int NOT NULL PRIMARY KEY, name varchar(50) NOT NULL) ENGINE=" + engine + ";"
	}
	handRow := fmt.Sprintf("INSERT INTO items VALUES (%d, 'by hand');", conflict)
	cases := []struct {
		name string
		// before makes the tables and the row statement at index conflict
		// fails on; script is the plan.
		before, script string
		conflict       int
		// batched is whether the row changes before the failed one may
		// have been rolled back with it; schema is how many statements
		// before the failed one write no row of items.
		batched bool
		schema  int
	}{
		{"innodb", table("InnoDB") + handRow, inserts(1), conflict - 1, true, -1},
		{"myisam before the plan", table("MyISAM") + handRow, inserts(1), conflict - 1, false, -1},
		{"a system-versioned myisam table", table("InnoDB") + handRow + "CREATE TABLE sv (id int) ENGINE=MyISAM WITH SYSTEM VERSIONING;",
			inserts(1), conflict - 1, false, -1},
		{"a sequence", table("InnoDB") + handRow + "CREATE SEQUENCE seq;", inserts(1), conflict - 1, false, -1},
		{"a trigger", table("InnoDB") + handRow + "CREATE TABLE audit (id int) ENGINE=InnoDB;" +
			"CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW INSERT INTO audit VALUES (NEW.id);",
			inserts(1), conflict - 1, false, -1},
		{"a view", table("InnoDB") + handRow + "CREATE VIEW ids AS SELECT id FROM items;", inserts(1), conflict - 1, false, -1},
		{"myisam made by the plan", table("InnoDB") + "CREATE TABLE other (id int NOT NULL PRIMARY KEY);",
			"INSERT INTO other VALUES (1);\nDROP TABLE items;\n" + table("MyISAM") + "\n" +
				fmt.Sprintf("INSERT INTO items (id, name) VALUES (%d, 'first');\n", conflict) + inserts(1),
			4 + conflict - 1, false, 3},
	}
	mysql := engines[2]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, mysql)
			d.exec(t, c.before)
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			in := planner.Input{Scripts: scripts(c.script)}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())

			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "uid ns/items"})
			var failed *planner.StatementError
			g.Expect(errors.As(err, &failed)).To(BeTrue(), "%v", err)
			g.Expect(failed.Index).To(Equal(c.conflict), "the row statement that conflicts")
			g.Expect(failed.RolledBack).To(BeFalse())
			if c.batched {
				g.Expect(failed.Applied).To(BeNumerically("<=", c.conflict))
			} else {
				g.Expect(failed.Applied).To(Equal(c.conflict), "statement by statement: all before it stay")
			}
			if failed.Applied < failed.Index {
				g.Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("statements %d to %d, run in one transaction with it, were rolled back with it", failed.Applied+1, failed.Index)))
			}
			revs := d.revisions(t)
			g.Expect(revs).To(HaveLen(1))
			g.Expect(revs[0].Done).To(Equal(failed.Applied), "the checkpoint is what stays")
			// Every statement that stays wrote one row of items, but the
			// schema's; the conflicting row is there too.
			dbtest.ExpectRows(t, d.db, "items", failed.Applied-c.schema)
		})
	}
}

// A connection cut in the middle of the row batches leaves what the
// revision table records, batch for batch, and the next apply of the plan
// finishes it: every row written once.
func TestRowBatchesThroughAConnectionDrop(t *testing.T) {
	const rows = 5000
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engines[2])
	var b strings.Builder
	b.WriteString("CREATE TABLE items (id int NOT NULL PRIMARY KEY, name varchar(50) NOT NULL);\n")
	for id := 1; id <= rows; id++ {
		fmt.Fprintf(&b, "INSERT INTO items (id, name) VALUES (%d, 'item %d');\n", id, id)
	}
	in := planner.Input{Scripts: scripts(b.String())}
	proxy, via := d.throughProxy(t)
	pl := &planner.Planner{DevServers: dbtest.DevServers()}
	plan, err := pl.Plan(ctx, via, in)
	g.Expect(err).NotTo(HaveOccurred())

	var once sync.Once
	opts := planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "uid ns/items", Progress: func(done, _ int, _ string) {
		if done > 1 {
			// Within the next batch, or between two.
			once.Do(func() { time.AfterFunc(3*time.Millisecond, proxy.Drop) })
		}
	}}
	_, err = pl.Apply(ctx, via, in, opts)
	g.Expect(err).To(MatchError(planner.ErrConnectionLost))
	revs := d.revisions(t)
	g.Expect(revs).To(HaveLen(1))
	g.Expect(revs[0].Done).To(BeNumerically(">", 1))
	g.Expect(revs[0].Done).To(BeNumerically("<", rows+1), "cut short")
	dbtest.ExpectRows(t, d.db, "items", revs[0].Done-1)

	opts.Progress = nil
	res, err := pl.Apply(ctx, via, in, opts)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Plan.Statements).To(HaveLen(rows + 1 - revs[0].Done))
	dbtest.ExpectRows(t, d.db, "items", rows)
	revs = d.revisions(t)
	g.Expect(revs).To(HaveLen(1))
	g.Expect(revs[0].Status).To(Equal(database.RevisionSucceeded))
}

// An apply cut short resumes only with the validation scripts and the run
// settings it was approved with: its revision row pins them next to its
// scripts, since the resume has no plan hash to check.
func TestCutShortApplyResumesOnlyWithWhatWasApproved(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engines[2])
	d.exec(t, "CREATE TABLE users (id int NOT NULL PRIMARY KEY);")
	in := planner.Input{
		Scripts:     scripts("ALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int;\nALTER TABLE users ADD COLUMN c int;"),
		Validations: []script.Script{{Name: "check", Type: script.TypeValidation, SQL: "SELECT COUNT(*) = 0 FROM users;"}},
		Settings:    `{"strategy":"transactional"}`,
	}
	proxy, via := d.throughProxy(t)
	pl := &planner.Planner{DevServers: dbtest.DevServers()}
	plan, err := pl.Plan(ctx, via, in)
	g.Expect(err).NotTo(HaveOccurred())
	opts := planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "uid ns/users", Progress: func(done, _ int, _ string) {
		if done == 1 {
			proxy.Drop()
		}
	}}
	_, err = pl.Apply(ctx, via, in, opts)
	g.Expect(err).To(MatchError(planner.ErrConnectionLost))
	opts.Progress = nil

	changed := []planner.Input{in, in}
	changed[0].Validations = []script.Script{{Name: "check", Type: script.TypeValidation, SQL: "SELECT TRUE;"}}
	changed[1].Settings = `{"strategy":"transactional","rollback":{"automatic":true}}`
	for _, c := range changed {
		_, err = pl.Apply(ctx, via, c, opts)
		g.Expect(err).To(MatchError(ContainSubstring("approved with other validation scripts or run settings")))
	}
	g.Expect(d.columns(t, "users")).To(HaveLen(2), "the refused resumes ran nothing")

	res, err := pl.Apply(ctx, via, in, opts)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Plan.Statements).To(HaveLen(2), "the resume runs what was left")
	g.Expect(d.columns(t, "users")).To(ConsistOf("id", "a", "b", "c"))
}
