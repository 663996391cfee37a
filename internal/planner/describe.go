package planner

import (
	"fmt"

	"ariga.io/atlas/sql/schema"
)

// describe summarises changes for a reviewer, one line per change.
func describe(changes []schema.Change) []string {
	var out []string
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.AddTable:
			out = append(out, "create table "+c.T.Name)
		case *schema.DropTable:
			out = append(out, "drop table "+c.T.Name)
		case *schema.RenameTable:
			out = append(out, fmt.Sprintf("rename table %s to %s", c.From.Name, c.To.Name))
		case *schema.ModifyTable:
			for _, tc := range c.Changes {
				out = append(out, describeTableChange(c.T.Name, tc))
			}
		case *schema.AddSchema:
			out = append(out, "create schema "+c.S.Name)
		case *schema.DropSchema:
			out = append(out, "drop schema "+c.S.Name)
		case *schema.ModifySchema:
			out = append(out, "modify schema "+c.S.Name)
		default:
			out = append(out, fmt.Sprintf("%T", c))
		}
	}
	return out
}

func describeTableChange(table string, c schema.Change) string {
	switch c := c.(type) {
	case *schema.AddColumn:
		return fmt.Sprintf("add column %s.%s", table, c.C.Name)
	case *schema.DropColumn:
		return fmt.Sprintf("drop column %s.%s", table, c.C.Name)
	case *schema.RenameColumn:
		return fmt.Sprintf("rename column %s.%s to %s", table, c.From.Name, c.To.Name)
	case *schema.ModifyColumn:
		return fmt.Sprintf("modify column %s.%s (%s)", table, c.To.Name, changeKind(c.Change))
	case *schema.AddIndex:
		kind := "index"
		if c.I.Unique {
			kind = "unique index"
		}
		return fmt.Sprintf("add %s %s on %s", kind, c.I.Name, table)
	case *schema.DropIndex:
		return fmt.Sprintf("drop index %s on %s", c.I.Name, table)
	case *schema.ModifyIndex:
		return fmt.Sprintf("modify index %s on %s", c.To.Name, table)
	case *schema.RenameIndex:
		return fmt.Sprintf("rename index %s to %s on %s", c.From.Name, c.To.Name, table)
	case *schema.AddForeignKey:
		return fmt.Sprintf("add foreign key %s on %s", c.F.Symbol, table)
	case *schema.DropForeignKey:
		return fmt.Sprintf("drop foreign key %s on %s", c.F.Symbol, table)
	case *schema.ModifyForeignKey:
		return fmt.Sprintf("modify foreign key %s on %s", c.To.Symbol, table)
	case *schema.AddCheck:
		return fmt.Sprintf("add check %s on %s", c.C.Name, table)
	case *schema.DropCheck:
		return fmt.Sprintf("drop check %s on %s", c.C.Name, table)
	case *schema.ModifyCheck:
		return fmt.Sprintf("modify check %s on %s", c.To.Name, table)
	case *schema.AddPrimaryKey:
		return "add primary key on " + table
	case *schema.DropPrimaryKey:
		return "drop primary key on " + table
	case *schema.ModifyPrimaryKey:
		return "modify primary key on " + table
	case *schema.AddAttr, *schema.ModifyAttr, *schema.DropAttr:
		return "modify attributes of table " + table
	}
	return fmt.Sprintf("%T on %s", c, table)
}

func changeKind(k schema.ChangeKind) string {
	var parts []string
	for _, n := range []struct {
		k    schema.ChangeKind
		name string
	}{
		{schema.ChangeType, "type"},
		{schema.ChangeNull, "nullability"},
		{schema.ChangeDefault, "default"},
		{schema.ChangeComment, "comment"},
		{schema.ChangeGenerated, "generated"},
		{schema.ChangeAttr, "attributes"},
		{schema.ChangeCharset, "charset"},
		{schema.ChangeCollate, "collation"},
	} {
		if k.Is(n.k) {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "definition"
	}
	s := parts[0]
	for _, p := range parts[1:] {
		s += ", " + p
	}
	return s
}

// destructiveChange reports whether a change loses data: a drop of a
// schema, table or column (a rename keeps it).
func destructiveChange(changes []schema.Change) bool {
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropTable, *schema.DropSchema:
			return true
		case *schema.ModifyTable:
			for _, tc := range c.Changes {
				if _, ok := tc.(*schema.DropColumn); ok {
					return true
				}
			}
		}
	}
	return false
}
