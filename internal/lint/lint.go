package lint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	webhooks "github.com/mohit-nagaraj/kube-shift/webhooks/v1alpha1"
)

// Options are the platform settings the webhook would run with (the
// manager's flags of the same names) and where unnamespaced objects go.
type Options struct {
	// Namespace is the namespace of objects that name none, as kubectl's
	// -n would give them.
	Namespace string
	// AllowAutoApproval, AllowSQL and RequireTargetRef are the manager's
	// --allow-auto-approval, --allow-sql and --require-target-ref.
	AllowAutoApproval bool
	AllowSQL          map[sqlstatic.Reach]bool
	RequireTargetRef  bool
	// SQLiteRoot is the manager's --sqlite-root: SQLite paths are checked
	// against it on this machine. Empty: "/", no confinement.
	SQLiteRoot string
	// Plan, when set, runs the planner's lint on every migration the
	// webhook admits.
	Plan *Planning
}

// User is who the lint creates migrations as: a user who may not
// approve, as the author of a pull request is.
const User = "kubectl-shift-lint"

// Severity is how much a finding matters: an error is what kube-shift
// refuses (the webhook, or the operator blocking a plan), a warning what
// it lets through with a warning or for a reviewer to weigh, info what is
// worth knowing.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Location is a line of an input file.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
}

// Finding is one thing the webhook would refuse or warn about.
type Finding struct {
	// Location is the line of the manifest the finding's field is on.
	Location
	// Statement, when the finding is about one statement of a script whose
	// text is in the input (inline, or in a ConfigMap of the input), is
	// that statement's line.
	Statement *Location `json:"statement,omitempty"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Severity  Severity  `json:"severity"`
	// Type is the cause type the API server reports (FieldValueForbidden,
	// FieldValueInvalid, ...) or "Warning" for the webhook's findings;
	// the analyzer's code, or one of the Type* constants, for the
	// planner's.
	Type string `json:"type"`
	// Code is the code of a planner's finding: an Atlas analyzer's (DS103,
	// MF104, ...) or kube-shift's own (KS...). Empty for the webhook's.
	Code string `json:"code,omitempty"`
	// Field is the field path, as in the webhook's answer.
	Field string `json:"field,omitempty"`
	// Message is the webhook's message for the field, word for word.
	Message string `json:"message"`
}

// Text is the finding as `kubectl apply` prints a cause: the field, then
// the message; a planner's finding as its code, then the analyzer's text.
func (f Finding) Text() string {
	switch {
	case f.Code != "":
		return f.Field + ": " + f.Code + ": " + f.Message
	case f.Field == "" || f.Type == "Warning":
		return f.Message
	}
	return f.Field + ": " + f.Message
}

// Where is the line a finding is best shown at: the statement's when
// known, otherwise the manifest's.
func (f Finding) Where() Location {
	if f.Statement != nil {
		return *f.Statement
	}
	return f.Location
}

// Report is the result of a lint.
type Report struct {
	// Migrations is how many DatabaseMigrations were checked.
	Migrations int `json:"migrations"`
	// Planned is how many of them the planner's lint planned.
	Planned  int       `json:"planned,omitempty"`
	Findings []Finding `json:"findings"`
}

// Errors counts the findings at error level.
func (r Report) Errors() int { return r.count(SeverityError) }

// Warnings counts the findings at warning level.
func (r Report) Warnings() int { return r.count(SeverityWarning) }

func (r Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// ErrNoMigration is returned when the input holds no DatabaseMigration:
// a CI job pointed at the wrong path should fail loudly, not pass.
var ErrNoMigration = errors.New("the input holds no DatabaseMigration")

// Run checks every DatabaseMigration of docs as the admission webhooks
// would on `kubectl apply` of the whole input into an empty namespace:
// the mutating webhook's Defaulter, then the validating webhook's
// ValidateCreate, reading sources from the other documents.
func Run(ctx context.Context, s *runtime.Scheme, docs []Document, o Options) (Report, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	reader := &objectReader{scheme: s}
	var migrations []int
	for i := range docs {
		obj, ok := docs[i].Object.(client.Object)
		if !ok {
			continue
		}
		if obj.GetNamespace() == "" && namespaced(docs[i]) {
			obj.SetNamespace(o.Namespace)
		}
		if _, ok := obj.(*dbv1.DatabaseMigration); ok {
			migrations = append(migrations, i)
			continue
		}
		reader.items = append(reader.items, obj)
	}
	if len(migrations) == 0 {
		return Report{}, ErrNoMigration
	}
	validator := &webhooks.Validator{
		Reader:            reader,
		AllowAutoApproval: o.AllowAutoApproval,
		AllowSQL:          o.AllowSQL,
		RequireTargetRef:  o.RequireTargetRef,
		SQLiteRoot:        cmp.Or(o.SQLiteRoot, "/"),
	}
	var plans *planning
	if o.Plan != nil {
		var err error
		if plans, err = newPlanning(o.Plan, o); err != nil {
			return Report{}, err
		}
		var dbms []*dbv1.DatabaseMigration
		for _, i := range migrations {
			dbms = append(dbms, docs[i].Object.(*dbv1.DatabaseMigration))
		}
		if err := plans.checkDevDatabases(ctx, reader, dbms); err != nil {
			return Report{}, err
		}
	}
	report := Report{Migrations: len(migrations), Findings: []Finding{}}
	for _, i := range migrations {
		dbm := docs[i].Object.(*dbv1.DatabaseMigration).DeepCopy()
		warnings, err := admit(ctx, validator, dbm)
		if err != nil && !isInvalid(err) {
			return report, fmt.Errorf("%s: DatabaseMigration %s: %w", docs[i].File, dbm.Name, err)
		}
		refused := causes(err)
		for _, c := range refused {
			report.Findings = append(report.Findings, locate(docs, i, dbm, Finding{
				Severity: SeverityError, Type: c.Type, Field: c.Field, Message: c.Message,
			}))
		}
		for _, w := range warnings {
			report.Findings = append(report.Findings, locate(docs, i, dbm, Finding{
				Severity: SeverityWarning, Type: "Warning", Field: warningField(w), Message: w,
			}))
		}
		// What the webhook refuses is never planned by the operator.
		if plans == nil || len(refused) > 0 {
			continue
		}
		found, planned, err := plans.lint(ctx, reader, docs, i, dbm)
		if err != nil {
			return report, err
		}
		if planned {
			report.Planned++
		}
		report.Findings = append(report.Findings, found...)
	}
	return report, nil
}

// admit runs the webhooks' own code on dbm as a create by User.
func admit(ctx context.Context, v *webhooks.Validator, dbm *dbv1.DatabaseMigration) (admission.Warnings, error) {
	ctx = admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create,
		Namespace: dbm.Namespace,
		Name:      dbm.Name,
		UserInfo:  authnv1.UserInfo{Username: User},
	}})
	if err := (&webhooks.Defaulter{}).Default(ctx, dbm); err != nil {
		return nil, err
	}
	return v.ValidateCreate(ctx, dbm)
}

func isInvalid(err error) bool { return err == nil || apierrors.IsInvalid(err) }

// causes are the field errors of the webhook's answer, as the API server
// passes them on.
func causes(err error) []cause {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var out []cause
	for _, c := range status.Status().Details.Causes {
		out = append(out, cause{Type: string(c.Type), Field: c.Field, Message: c.Message})
	}
	return out
}

type cause struct{ Type, Field, Message string }

// namespaced says whether a document's kind lives in a namespace: the
// few cluster-scoped kinds the validator reads are not.
func namespaced(d Document) bool {
	switch d.GVK.Kind {
	case "Namespace", dbv1.KindClusterDatabaseTarget:
		return false
	}
	return true
}

// warningField is the field a warning starts with ("spec.x: ..."), if any.
func warningField(w string) string {
	field, _, ok := strings.Cut(w, ": ")
	if !ok || !strings.HasPrefix(field, "spec.") || strings.Contains(field, " ") {
		return ""
	}
	return field
}

var lineInMessage = regexp.MustCompile(`\bline (\d+)\b`)

// locate fills in where the finding is: the manifest line of its field
// and, for a statement of a script the input holds, the statement's line.
func locate(docs []Document, i int, dbm *dbv1.DatabaseMigration, f Finding) Finding {
	doc := docs[i]
	f.Namespace, f.Name = dbm.Namespace, dbm.Name
	f.File = doc.File
	f.Line = lineOf(doc.Node, f.Field)
	m := lineInMessage.FindStringSubmatch(f.Message)
	if m == nil || f.Statement != nil {
		return f
	}
	n, _ := strconv.Atoi(m[1])
	if at := scriptText(docs, doc, dbm, f.Field); at != nil {
		f.Statement = &Location{File: at.File, Line: at.Line + n - 1}
	}
	return f
}

// scriptText is the first line of the text the field's script or schema
// holds, when the input holds it.
func scriptText(docs []Document, doc Document, dbm *dbv1.DatabaseMigration, fieldPath string) *Location {
	base, ok := strings.CutSuffix(fieldPath, ".sql")
	if !ok {
		return nil
	}
	uri := ""
	if idx, ok := scriptIndex(base); ok && idx < len(dbm.Spec.Migration.Scripts) {
		uri = dbm.Spec.Migration.Scripts[idx].Source
	} else if base == "spec.migration.desiredSchema" && dbm.Spec.Migration.DesiredSchema != nil {
		uri = dbm.Spec.Migration.DesiredSchema.Source
	} else {
		return nil
	}
	ref, err := source.ParseRef(uri)
	if err != nil {
		return nil
	}
	if ref.Kind == source.KindInline {
		return textStart(doc.File, nodeAt(doc.Node, fieldPath))
	}
	if ref.Kind != source.KindConfigMap {
		return nil // a Secret's text is never shown
	}
	for _, d := range docs {
		cm, ok := d.Object.(client.Object)
		if ok && d.GVK.Kind == "ConfigMap" && d.GVK.Group == "" && cm.GetName() == ref.Name && cm.GetNamespace() == dbm.Namespace {
			return textStart(d.File, nodeAt(d.Node, "data["+ref.Key+"]"))
		}
	}
	return nil
}

var scriptPath = regexp.MustCompile(`^spec\.migration\.scripts\[(\d+)\]$`)

func scriptIndex(path string) (int, bool) {
	m := scriptPath.FindStringSubmatch(path)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}
