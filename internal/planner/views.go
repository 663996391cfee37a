package planner

import (
	"path"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// Atlas's open-source drivers neither inspect nor plan views, so views are
// compared here by name and definition, dropped before the table changes
// (which they may depend on) and created after them.

func createView(e database.Engine, v database.View) string {
	return "CREATE VIEW " + e.Quote(v.Name) + " AS " + v.Def
}

func dropView(e database.Engine, v database.View) string {
	return "DROP VIEW " + e.Quote(v.Name)
}

// viewChanges returns the statements taking views from -> to: drops (run
// first) and creates (run last), with a summary of each.
func viewChanges(e database.Engine, from, to []database.View) (drops, creates, summary []string) {
	old := map[string]database.View{}
	for _, v := range from {
		old[v.Name] = v
	}
	seen := map[string]bool{}
	for _, v := range to {
		seen[v.Name] = true
		prev, ok := old[v.Name]
		switch {
		case !ok:
			creates = append(creates, createView(e, v))
			summary = append(summary, "create view "+v.Name)
		case prev.Def != v.Def:
			drops = append(drops, dropView(e, prev))
			creates = append(creates, createView(e, v))
			summary = append(summary, "replace view "+v.Name)
		}
	}
	for _, v := range from {
		if !seen[v.Name] {
			drops = append(drops, dropView(e, v))
			summary = append(summary, "drop view "+v.Name)
		}
	}
	return drops, creates, summary
}

func excludeViews(views []database.View, exclude []string) []database.View {
	var kept []database.View
	for _, v := range views {
		if !excluded(v.Name, exclude) {
			kept = append(kept, v)
		}
	}
	return kept
}

// excluded matches name against table-level exclude globs.
func excluded(name string, globs []string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
