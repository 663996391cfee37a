package planner

import (
	"context"
	"fmt"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqlcheck"

	// The engines' analyzer sets (destructive, data-dependent,
	// backward-incompatible, constraint-drop and their own), registered
	// for sqlcheck.AnalyzerFor.
	_ "ariga.io/atlas/sql/mysql/mysqlcheck"
	_ "ariga.io/atlas/sql/postgres/postgrescheck"
	_ "ariga.io/atlas/sql/sqlite/sqlitecheck"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// lint runs the engine's Atlas analyzers on file, whose statements decls
// are the plan's statements from offset on.
func lint(ctx context.Context, dev *devState, file *sqlcheck.File, decls []*migrate.Stmt, offset int) ([]dbv1.Diagnostic, error) {
	analyzers, err := sqlcheck.AnalyzerFor(dev.target.Engine.Name(), nil)
	if err != nil {
		return nil, fmt.Errorf("loading the %s analyzers: %w", dev.target.Engine.Name(), err)
	}
	file.Parser = stmtParser{}
	var diags []dbv1.Diagnostic
	for _, az := range analyzers {
		var reports []sqlcheck.Report
		pass := &sqlcheck.Pass{
			File:     file,
			Dev:      dev.client,
			Reporter: sqlcheck.ReportWriterFunc(func(r sqlcheck.Report) { reports = append(reports, r) }),
		}
		err := az.Analyze(ctx, pass)
		// An analyzer configured to fail on its findings (destructive is,
		// by default) returns an error with its report: those are errors.
		severity := dbv1.SeverityWarning
		if err != nil && len(reports) > 0 {
			severity = dbv1.SeverityError
		}
		if err != nil && len(reports) == 0 {
			diags = append(diags, dbv1.Diagnostic{Code: "KS000", Severity: dbv1.SeverityWarning, Text: fmt.Sprintf("analyzer %s failed: %v", analyzerName(az), err)})
		}
		for _, r := range reports {
			for _, d := range r.Diagnostics {
				diags = append(diags, dbv1.Diagnostic{
					Code:      d.Code,
					Severity:  severity,
					Text:      d.Text,
					Statement: statementAt(decls, d.Pos, offset),
				})
			}
		}
	}
	return diags, nil
}

func analyzerName(az sqlcheck.Analyzer) string {
	if n, ok := az.(sqlcheck.NamedAnalyzer); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", az)
}

// statementAt maps a position in a file to the plan's statement index.
func statementAt(decls []*migrate.Stmt, pos, offset int) *int32 {
	idx := 0
	for i, s := range decls {
		if s.Pos <= pos {
			idx = i
		}
	}
	n := int32(offset + idx)
	return &n
}

// Our own static checks: data loss no schema diff shows.
var staticCodes = map[sqlstatic.Kind]struct {
	code     string
	severity dbv1.DiagnosticSeverity
}{
	sqlstatic.KindTruncate:           {"KS101", dbv1.SeverityError},
	sqlstatic.KindDeleteWithoutWhere: {"KS102", dbv1.SeverityError},
	sqlstatic.KindUpdateWithoutWhere: {"KS103", dbv1.SeverityWarning},
}

// staticLint runs our static checks on a script's statements; it reports
// whether any finding destroys data.
func staticLint(engine sqlstatic.Dialect, sql string, decls []*migrate.Stmt, offset int) ([]dbv1.Diagnostic, bool) {
	stmts, err := sqlstatic.SplitFor(engine, sql)
	if err != nil {
		return nil, false
	}
	var (
		diags       []dbv1.Diagnostic
		destructive bool
	)
	for _, f := range sqlstatic.Destructive(stmts) {
		c, ok := staticCodes[f.Kind]
		if !ok {
			continue // drops: Atlas's destructive analyzer reports them
		}
		destructive = destructive || c.severity == dbv1.SeverityError
		diags = append(diags, dbv1.Diagnostic{
			Code:      c.code,
			Severity:  c.severity,
			Text:      strings.ToUpper(f.Message[:1]) + f.Message[1:],
			Statement: statementAt(decls, stmts[f.Statement].Pos, offset),
		})
	}
	return diags, destructive
}
