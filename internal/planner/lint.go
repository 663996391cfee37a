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

	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// Severity grades a finding. Its values are the API's DiagnosticSeverity
// values, so one converts to the other as it is.
type Severity string

const (
	SeverityError   Severity = "Error"
	SeverityWarning Severity = "Warning"
	SeverityInfo    Severity = "Info"
)

// Diagnostic is one lint finding on a plan.
type Diagnostic struct {
	// Code is the analyzer's code, such as DS103 or BC102 (KS for ours).
	Code     string
	Severity Severity
	// Text explains the finding.
	Text string
	// Statement is the index in Plan.Statements the finding is about; nil
	// when it is about none in particular.
	Statement *int32
}

// lint runs the engine's Atlas analyzers on file, whose statements decls
// are the plan's statements from offset on.
func lint(ctx context.Context, dev *devState, file *sqlcheck.File, decls []*migrate.Stmt, offset int) ([]Diagnostic, error) {
	analyzers, err := sqlcheck.AnalyzerFor(dev.target.Engine.Name(), nil)
	if err != nil {
		return nil, fmt.Errorf("loading the %s analyzers: %w", dev.target.Engine.Name(), err)
	}
	file.Parser = stmtParser{dialect: sqlstatic.Dialect(dev.target.Engine.Kinds()[0])}
	var diags []Diagnostic
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
		severity := SeverityWarning
		if err != nil && len(reports) > 0 {
			severity = SeverityError
		}
		if err != nil && len(reports) == 0 {
			diags = append(diags, Diagnostic{Code: "KS000", Severity: SeverityWarning, Text: fmt.Sprintf("analyzer %s failed: %v", analyzerName(az), err)})
		}
		for _, r := range reports {
			for _, d := range r.Diagnostics {
				diags = append(diags, Diagnostic{
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
	severity Severity
}{
	sqlstatic.KindTruncate:           {"KS101", SeverityError},
	sqlstatic.KindDeleteWithoutWhere: {"KS102", SeverityError},
	sqlstatic.KindUpdateWithoutWhere: {"KS103", SeverityWarning},
}

// staticLint runs our static checks on a script's statements; it reports
// whether any finding destroys data.
func staticLint(engine sqlstatic.Dialect, sql string, decls []*migrate.Stmt, offset int) ([]Diagnostic, bool) {
	stmts, err := sqlstatic.SplitFor(engine, sql)
	if err != nil {
		return nil, false
	}
	var (
		diags       []Diagnostic
		destructive bool
	)
	for _, f := range sqlstatic.Destructive(stmts) {
		c, ok := staticCodes[f.Kind]
		if !ok {
			continue // drops: Atlas's destructive analyzer reports them
		}
		destructive = destructive || c.severity == SeverityError
		diags = append(diags, Diagnostic{
			Code:      c.code,
			Severity:  c.severity,
			Text:      strings.ToUpper(f.Message[:1]) + f.Message[1:],
			Statement: statementAt(decls, stmts[f.Statement].Pos, offset),
		})
	}
	return diags, destructive
}
