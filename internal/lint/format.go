package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Formats are the output formats Write knows.
var Formats = []string{"text", "json", "github", "sarif"}

// Write writes the report in format (one of Formats).
func Write(w io.Writer, format string, r Report) error {
	switch format {
	case "text":
		return writeText(w, r)
	case "json":
		return writeIndented(w, r)
	case "github":
		return writeGitHub(w, r)
	case "sarif":
		return writeIndented(w, toSARIF(r))
	}
	return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// writeText prints one line per finding as compilers do (FILE:LINE:
// severity: ...), the statement's line after it, then a summary.
func writeText(w io.Writer, r Report) error {
	for _, f := range r.Findings {
		line := fmt.Sprintf("%s:%d: %s: %s: %s", f.File, f.Line, f.Severity, f.Object(), f.Text())
		if s := f.Statement; s != nil {
			line += fmt.Sprintf(" [statement at %s:%d]", s.File, s.Line)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	planned := ""
	if r.Planned > 0 {
		planned = fmt.Sprintf(" (%d planned)", r.Planned)
	}
	info := ""
	if n := r.count(SeverityInfo); n > 0 {
		info = fmt.Sprintf(", %d info", n)
	}
	_, err := fmt.Fprintf(w, "%d DatabaseMigration(s) checked%s: %d error(s), %d warning(s)%s\n",
		r.Migrations, planned, r.Errors(), r.Warnings(), info)
	return err
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeGitHub prints workflow commands, which GitHub Actions turns into
// annotations on the lines of the pull request's diff.
func writeGitHub(w io.Writer, r Report) error {
	for _, f := range r.Findings {
		at := f.Where()
		level := map[Severity]string{SeverityError: "error", SeverityWarning: "warning", SeverityInfo: "notice"}[f.Severity]
		title := fmt.Sprintf("kube-shift: %s %s", f.kind(), f.Name)
		if _, err := fmt.Fprintf(w, "::%s file=%s,line=%d,title=%s::%s\n", level,
			escapeProperty(filepath.ToSlash(at.File)), at.Line, escapeProperty(title), escapeData(f.Text())); err != nil {
			return err
		}
	}
	return nil
}

// escapeData and escapeProperty follow the workflow command encoding
// (the toolkit's escapeData and escapeProperty): a message cannot break
// out of its command nor a property out of its value.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// SARIF 2.1.0, the subset code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
	HelpURI          string       `json:"helpUri,omitempty"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// ruleDescriptions describe the cause types the webhook answers with.
var ruleDescriptions = map[string]string{
	"FieldValueForbidden":    "the admission webhook refuses the field's value",
	"FieldValueInvalid":      "the field's value is invalid",
	"FieldValueNotFound":     "the field names something that does not exist",
	"FieldValueRequired":     "a required field is missing",
	"FieldValueDuplicate":    "the field's value is a duplicate",
	"FieldValueNotSupported": "the field's value is not one of those supported",
	"FieldValueTooLong":      "the field's value is too long",
	"Warning":                "the admission webhook accepts the migration with a warning",
	TypeNotPlanned:           "the migration could not be planned offline",
	TypePlanFailed:           "a statement fails when the migration is replayed on the dev database",
	TypeBlocked:              "the operator would block the plan: destructive under policy.destructive: block",
}

// codeFamilies describe the planner's findings by their code's prefix:
// Atlas's analyzers' families, and kube-shift's own checks.
var codeFamilies = map[string]string{
	"DS": "destructive change (Atlas analyzer)",
	"MF": "data-dependent change: may fail on the rows it meets (Atlas analyzer)",
	"BC": "backward-incompatible change (Atlas analyzer)",
	"CD": "constraint deletion (Atlas analyzer)",
	"MY": "MySQL-specific change (Atlas analyzer)",
	"LT": "SQLite-specific change (Atlas analyzer)",
	"PG": "PostgreSQL-specific change (Atlas analyzer)",
	"NM": "naming (Atlas analyzer)",
	"KS": "kube-shift's own check on the plan",
}

// ruleFor describes a finding type as a SARIF rule; Atlas's codes link
// to Atlas's description of them.
func ruleFor(id string) sarifRule {
	if desc, ok := ruleDescriptions[id]; ok {
		return sarifRule{ID: id, ShortDescription: sarifMessage{Text: desc}}
	}
	if len(id) > 2 {
		if desc, ok := codeFamilies[id[:2]]; ok {
			r := sarifRule{ID: id, ShortDescription: sarifMessage{Text: desc}}
			if id[:2] != "KS" {
				r.HelpURI = "https://atlasgo.io/lint/analyzers#" + id
			}
			return r
		}
	}
	return sarifRule{ID: id, ShortDescription: sarifMessage{Text: "the admission webhook refuses the migration"}}
}

func toSARIF(r Report) sarifLog {
	index := map[string]int{}
	var ids []string
	for _, f := range r.Findings {
		if _, ok := index[f.Type]; !ok {
			index[f.Type] = 0
			ids = append(ids, f.Type)
		}
	}
	sort.Strings(ids)
	rules := []sarifRule{}
	for i, id := range ids {
		index[id] = i
		rules = append(rules, ruleFor(id))
	}
	results := []sarifResult{}
	for _, f := range r.Findings {
		at := f.Where()
		loc := sarifPhysical{ArtifactLocation: sarifArtifact{URI: filepath.ToSlash(at.File)}}
		if at.Line > 0 {
			loc.Region = &sarifRegion{StartLine: at.Line}
		}
		level := map[Severity]string{SeverityError: "error", SeverityWarning: "warning", SeverityInfo: "note"}[f.Severity]
		results = append(results, sarifResult{
			RuleID:    f.Type,
			RuleIndex: index[f.Type],
			Level:     level,
			Message:   sarifMessage{Text: f.Object() + ": " + f.Text()},
			Locations: []sarifLocation{{PhysicalLocation: loc}},
		})
	}
	return sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           "kubectl-shift lint",
				InformationURI: "https://github.com/mohit-nagaraj/kube-shift",
				Rules:          rules,
			}},
			Results: results,
		}},
	}
}
