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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	// Kind is the kind of the object the finding is about:
	// DatabaseMigration, or a target checked against its schema.
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Severity  Severity `json:"severity"`
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
	case f.Field == "" || f.Type == "Warning" || f.Type == TypeUnknownField:
		return f.Message
	}
	return f.Field + ": " + f.Message
}

// Object names what the finding is about: "DatabaseMigration ns/name",
// or a cluster-scoped target's kind and name.
func (f Finding) Object() string {
	if f.Namespace == "" {
		return f.kind() + " " + f.Name
	}
	return f.kind() + " " + f.Namespace + "/" + f.Name
}

func (f Finding) kind() string {
	if f.Kind == "" {
		return "DatabaseMigration"
	}
	return f.Kind
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

// Run checks every DatabaseMigration of docs as the API server and the
// admission webhooks would on `kubectl apply` of the whole input into an
// empty namespace (see admit), reading sources from the other documents,
// and the targets of the input against their CRDs' schemas.
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
	crds, err := schemas()
	if err != nil {
		return Report{}, fmt.Errorf("reading the CustomResourceDefinitions: %w", err)
	}
	report := Report{Migrations: len(migrations), Findings: []Finding{}}
	// Targets are checked against their schema: one the API server
	// refuses is never created.
	for i := range docs {
		if k := docs[i].GVK.Kind; docs[i].GVK.Group == dbv1.GroupVersion.Group && k != "DatabaseMigration" {
			report.Findings = append(report.Findings, checkSchema(ctx, crds, docs[i], o.Namespace)...)
		}
	}
	for _, i := range migrations {
		dbm, warnings, err := admit(ctx, crds, validator, docs[i], o.Namespace)
		var strict *strictError
		if errors.As(err, &strict) {
			report.Findings = append(report.Findings, strict.findings(docs[i])...)
			continue
		}
		if err != nil && !isInvalid(err) {
			return report, fmt.Errorf("%s: DatabaseMigration %s: %w", docs[i].File, docs[i].Object.(client.Object).GetName(), err)
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

// admit runs on a migration what `kubectl apply` of it runs on the API
// server, as a create by User: strict decoding against the CRD's schema
// (unknown fields), the schema's defaults, the mutating webhook's
// Defaulter, the schema's validation and CEL rules, then the validating
// webhook's ValidateCreate. Schema errors stop it there, as the server
// answers them before calling the validating webhook.
func admit(ctx context.Context, crds map[schema.GroupVersionKind]*crdSchema, v *webhooks.Validator, doc Document, namespace string) (*dbv1.DatabaseMigration, admission.Warnings, error) {
	crd, ok := crds[doc.GVK]
	if !ok {
		return nil, nil, fmt.Errorf("no CustomResourceDefinition serves %s", doc.GVK)
	}
	fields := runtime.DeepCopyJSON(doc.Fields)
	u := &unstructured.Unstructured{Object: fields}
	if u.GetNamespace() == "" {
		u.SetNamespace(namespace)
	}
	if unknown := crd.unknownFields(fields); len(unknown) > 0 {
		return nil, nil, &strictError{paths: unknown, name: u.GetName(), namespace: u.GetNamespace()}
	}
	crd.applyDefaults(fields)
	dbm := &dbv1.DatabaseMigration{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(fields, dbm); err != nil {
		return nil, nil, err
	}
	ctx = admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create,
		Namespace: dbm.Namespace,
		Name:      dbm.Name,
		UserInfo:  authnv1.UserInfo{Username: User},
	}})
	if err := (&webhooks.Defaulter{}).Default(ctx, dbm); err != nil {
		return dbm, nil, err
	}
	mutated, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dbm)
	if err != nil {
		return dbm, nil, err
	}
	if errs := crd.validateCreate(ctx, mutated); len(errs) > 0 {
		return dbm, nil, apierrors.NewInvalid(doc.GVK.GroupKind(), dbm.Name, errs)
	}
	warnings, err := v.ValidateCreate(ctx, dbm)
	return dbm, warnings, err
}

// checkSchema checks a document of one of kube-shift's other kinds (the
// targets) against its CRD, as the API server would on its create.
func checkSchema(ctx context.Context, crds map[schema.GroupVersionKind]*crdSchema, doc Document, namespace string) []Finding {
	crd, ok := crds[doc.GVK]
	if !ok {
		return nil
	}
	fields := runtime.DeepCopyJSON(doc.Fields)
	u := &unstructured.Unstructured{Object: fields}
	if u.GetNamespace() == "" && crd.namespaced {
		u.SetNamespace(namespace)
	}
	if unknown := crd.unknownFields(fields); len(unknown) > 0 {
		return (&strictError{paths: unknown, name: u.GetName(), namespace: u.GetNamespace()}).findings(doc)
	}
	crd.applyDefaults(fields)
	var out []Finding
	for _, e := range crd.validateCreate(ctx, fields) {
		out = append(out, locateIn(doc, u.GetNamespace(), u.GetName(), Finding{
			Severity: SeverityError, Type: string(e.Type), Field: e.Field, Message: e.ErrorBody(),
		}))
	}
	return out
}

// strictError is fields a manifest sets that its schema does not declare:
// kubectl apply (whose --validate is strict by default) is refused with
// "strict decoding error: unknown field" for each.
type strictError struct {
	paths           []string
	name, namespace string
}

func (e *strictError) Error() string {
	return "strict decoding error: unknown field " + strings.Join(e.paths, ", ")
}

func (e *strictError) findings(doc Document) []Finding {
	var out []Finding
	for _, p := range e.paths {
		out = append(out, locateIn(doc, e.namespace, e.name, Finding{
			Severity: SeverityError, Type: TypeUnknownField, Field: p,
			Message: fmt.Sprintf("strict decoding error: unknown field %q", p),
		}))
	}
	return out
}

// TypeUnknownField is a field the CRD's schema does not declare.
const TypeUnknownField = "UnknownField"

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

// locateIn places a finding about the object namespace/name of doc at
// the line of its field.
func locateIn(doc Document, namespace, name string, f Finding) Finding {
	f.Kind, f.Namespace, f.Name = doc.GVK.Kind, namespace, name
	f.File = doc.File
	f.Line = lineOf(doc.Node, f.Field)
	return f
}

var lineInMessage = regexp.MustCompile(`\bline (\d+)\b`)

// locate fills in where the finding is: the manifest line of its field
// and, for a statement of a script the input holds, the statement's line.
func locate(docs []Document, i int, dbm *dbv1.DatabaseMigration, f Finding) Finding {
	doc := docs[i]
	f = locateIn(doc, dbm.Namespace, dbm.Name, f)
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
