package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"

	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
)

// hashVersion changes when what the hash covers changes, so a plan hashed
// by an older operator is never mistaken for a current one; and when what
// the plan shows a reviewer changes: v4 shows the validation scripts, so an
// approval of a v3 plan, which did not, is not honoured (the apply's plan
// differs, and the migration is planned again).
const hashVersion = "kube-shift plan v4"

// planHash is sha256 over the target's identity (no credentials), the live
// schema's fingerprint, the mode, the scripts (name, checksum, type and
// the scripts each depends on), the normalised statements, the validation
// scripts by content and the settings that say how the plan runs:
// everything that will run and how. The same inputs give the same hash in
// any process; a change to any of them gives another, so an
// approval never covers something its reviewer did not see.
func planHash(target *database.Target, live *liveState, plan *Plan, in Input) string {
	h := sha256.New()
	field := func(s string) {
		// Length-prefixed, so no two sequences of fields collide.
		_, _ = h.Write([]byte{byte(len(s) >> 24), byte(len(s) >> 16), byte(len(s) >> 8), byte(len(s))})
		_, _ = io.WriteString(h, s)
	}
	field(hashVersion)
	field(target.Identity())
	field(live.fingerprint)
	if in.Desired != nil {
		field("declarative")
	} else {
		field("versioned")
	}
	byName := map[string]script.Script{}
	for _, s := range in.Scripts {
		byName[s.Name] = s
	}
	for _, s := range plan.Scripts {
		field(s.Name)
		field(s.Checksum)
		// A data script's statements are not replayed, may run beside
		// other data scripts, and leave the tables they write out of the
		// integrity check; which scripts it waits for decides what runs
		// beside it (rolling, parallel): both are part of how the plan
		// runs.
		field(string(byName[s.Name].Type))
		field(strings.Join(byName[s.Name].DependsOn, "\x00"))
	}
	for _, s := range plan.Statements {
		field(normalize(s))
	}
	field("validations")
	for _, s := range in.Validations {
		field(s.Name)
		field(script.Checksum([]byte(s.SQL)))
	}
	field("settings")
	field(in.Settings)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// SameStatements reports whether two plans run the same statements, as
// the hash compares them (white space and a trailing semicolon aside).
func SameStatements(a, b []string) bool {
	return slices.EqualFunc(a, b, func(x, y string) bool { return normalize(x) == normalize(y) })
}

// normalize collapses runs of white space and drops a trailing semicolon,
// which do not change what a statement does.
func normalize(stmt string) string {
	return strings.TrimSuffix(strings.Join(strings.Fields(stmt), " "), ";")
}

// fingerprint is a canonical text of the live schema: the statements that
// would create it from nothing, in inspection order (by name), and its
// views.
func fingerprint(ctx context.Context, live *liveState) (string, error) {
	var b strings.Builder
	if len(live.schema.Tables) > 0 {
		changes, err := live.drv.SchemaDiff(&schema.Schema{Name: live.schema.Name, Attrs: live.schema.Attrs}, live.schema)
		if err != nil {
			return "", err
		}
		p, err := live.drv.PlanChanges(ctx, "fingerprint", changes, unqualified)
		if err != nil {
			return "", err
		}
		for _, c := range p.Changes {
			b.WriteString(c.Cmd)
			b.WriteString(";\n")
		}
	}
	for _, v := range live.views {
		b.WriteString(createView(live.target.Engine, v))
		b.WriteString(";\n")
	}
	return b.String(), nil
}
