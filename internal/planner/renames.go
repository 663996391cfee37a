package planner

import (
	"regexp"

	"ariga.io/atlas/sql/schema"
)

// Atlas diffs schemas by name, so a renamed column or table arrives as a
// drop and an add. When the statement that caused them is a rename, they are
// turned back into a rename: the data stays, and the analyzers report a
// backward-incompatible change (BC102) rather than a destructive one (DS103).

// rename is a column or table rename a statement made.
type rename struct {
	// table is the table holding a renamed column; empty for a table
	// rename.
	table    string
	from, to string
}

// renameStmt matches statements that rename: RENAME COLUMN, RENAME TO,
// RENAME TABLE, and MySQL's CHANGE [COLUMN] old new.
var renameStmt = regexp.MustCompile(`(?is)^\s*(ALTER\s+TABLE\b.*\b(RENAME|CHANGE)\b|RENAME\s+TABLE\b)`)

// detectRenames turns the drop+add pairs a rename statement caused into
// renames.
func detectRenames(changes []schema.Change, stmt string) ([]schema.Change, []rename) {
	if !renameStmt.MatchString(stmt) {
		return changes, nil
	}
	var (
		renames     []rename
		out         []schema.Change
		dropT, addT []int
	)
	for i, c := range changes {
		switch c := c.(type) {
		case *schema.DropTable:
			dropT = append(dropT, i)
		case *schema.AddTable:
			addT = append(addT, i)
		case *schema.ModifyTable:
			var rs []rename
			c.Changes, rs = pairColumns(c.T.Name, c.Changes, nil)
			renames = append(renames, rs...)
		}
	}
	if len(dropT) == 1 && len(addT) == 1 {
		from, to := changes[dropT[0]].(*schema.DropTable).T, changes[addT[0]].(*schema.AddTable).T
		renames = append(renames, rename{from: from.Name, to: to.Name})
		for i, c := range changes {
			switch i {
			case dropT[0]:
				out = append(out, &schema.RenameTable{From: from, To: to})
			case addT[0]:
			default:
				out = append(out, c)
			}
		}
		return out, renames
	}
	return changes, renames
}

// pairColumns pairs a table's dropped and added columns into renames: all
// of them in order when want is nil, else only the pairs want names.
func pairColumns(table string, changes []schema.Change, want []rename) ([]schema.Change, []rename) {
	var drops, adds []int
	for i, c := range changes {
		switch c.(type) {
		case *schema.DropColumn:
			drops = append(drops, i)
		case *schema.AddColumn:
			adds = append(adds, i)
		}
	}
	pairs := map[int]int{} // drop index -> add index
	if want == nil {
		if len(drops) != len(adds) {
			return changes, nil
		}
		for k := range drops {
			pairs[drops[k]] = adds[k]
		}
	} else {
		for _, r := range want {
			if r.table != table {
				continue
			}
			d, a := -1, -1
			for _, i := range drops {
				if changes[i].(*schema.DropColumn).C.Name == r.from {
					d = i
				}
			}
			for _, i := range adds {
				if changes[i].(*schema.AddColumn).C.Name == r.to {
					a = i
				}
			}
			if d >= 0 && a >= 0 {
				pairs[d] = a
			}
		}
	}
	if len(pairs) == 0 {
		return changes, nil
	}
	paired := map[int]bool{}
	for _, a := range pairs {
		paired[a] = true
	}
	var (
		out     []schema.Change
		renames []rename
	)
	for i, c := range changes {
		if a, ok := pairs[i]; ok {
			from, to := c.(*schema.DropColumn).C, changes[a].(*schema.AddColumn).C
			out = append(out, &schema.RenameColumn{From: from, To: to})
			renames = append(renames, rename{table: table, from: from.Name, to: to.Name})
			continue
		}
		if !paired[i] {
			out = append(out, c)
		}
	}
	return out, renames
}

// applyRenames turns drop+add pairs in changes into the given renames:
// used on the rollback diff, with the plan's renames reversed.
func applyRenames(changes []schema.Change, renames []rename) []schema.Change {
	if len(renames) == 0 {
		return changes
	}
	var out []schema.Change
	used := map[int]bool{}
	for _, r := range renames {
		if r.table != "" {
			continue
		}
		d, a := -1, -1
		for i, c := range changes {
			if dt, ok := c.(*schema.DropTable); ok && dt.T.Name == r.from {
				d = i
			}
			if at, ok := c.(*schema.AddTable); ok && at.T.Name == r.to {
				a = i
			}
		}
		if d >= 0 && a >= 0 {
			changes[d] = &schema.RenameTable{From: changes[d].(*schema.DropTable).T, To: changes[a].(*schema.AddTable).T}
			used[a] = true
		}
	}
	for i, c := range changes {
		if used[i] {
			continue
		}
		if m, ok := c.(*schema.ModifyTable); ok {
			m.Changes, _ = pairColumns(m.T.Name, m.Changes, renames)
		}
		out = append(out, c)
	}
	return out
}

// reversed returns the renames undone.
func reversed(renames []rename) []rename {
	out := make([]rename, len(renames))
	for i, r := range renames {
		out[len(renames)-1-i] = rename{table: r.table, from: r.to, to: r.from}
	}
	return out
}
