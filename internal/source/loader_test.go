package source

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

const (
	ns = "team-a"
	// secretSQL stands for content that must never reach an error message.
	secretSQL = "UPDATE users SET password = 'hunter2-do-not-log' WHERE id = 1;"
)

func sourceObjects() []client.Object {
	return []client.Object{
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "schema"},
			Data:       map[string]string{"001.sql": "CREATE TABLE a (id int);", "002.sql": "CREATE TABLE b (id int);"},
			BinaryData: map[string][]byte{"003.sql": []byte("CREATE TABLE c (id int);")},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seed"},
			Data:       map[string][]byte{"up.sql": []byte(secretSQL)},
		},
		// Same names in another namespace: the loader must not read them.
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "elsewhere"},
			Data:       map[string]string{"x.sql": "SELECT 1;"},
		},
	}
}

func scriptSpec(name, src string, opts ...func(*dbv1.MigrationScript)) dbv1.MigrationScript {
	s := dbv1.MigrationScript{Name: name, Type: dbv1.ScriptTypeSchema, Source: src}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func withChecksum(c string) func(*dbv1.MigrationScript) {
	return func(s *dbv1.MigrationScript) { s.Checksum = c }
}

func withDeps(deps ...string) func(*dbv1.MigrationScript) {
	return func(s *dbv1.MigrationScript) { s.DependsOn = deps }
}

func TestLoadScripts(t *testing.T) {
	tests := []struct {
		name    string
		scripts []dbv1.MigrationScript
		want    []script.Script
		wantErr []error  // each must match with errors.Is
		errHas  []string // substrings of the message
	}{
		{
			name: "all kinds of source, ordered by dependsOn",
			scripts: []dbv1.MigrationScript{
				scriptSpec("seed", "secret://seed/up.sql", withDeps("b"), func(s *dbv1.MigrationScript) { s.Type = dbv1.ScriptTypeData }),
				scriptSpec("a", "configmap://schema/001.sql", withChecksum(script.Checksum([]byte("CREATE TABLE a (id int);")))),
				scriptSpec("b", "configmap://schema/003.sql"),
				scriptSpec("check", "inline", func(s *dbv1.MigrationScript) {
					s.Type, s.SQL = dbv1.ScriptTypeValidation, "SELECT count(*) = 1 FROM a;"
					s.Timeout = &metav1.Duration{Duration: 30 * time.Second}
				}),
			},
			want: []script.Script{
				{Name: "a", Type: script.TypeSchema, SQL: "CREATE TABLE a (id int);", Checksum: script.Checksum([]byte("CREATE TABLE a (id int);"))},
				{Name: "b", Type: script.TypeSchema, SQL: "CREATE TABLE c (id int);", Checksum: script.Checksum([]byte("CREATE TABLE c (id int);"))},
				{Name: "seed", Type: script.TypeData, SQL: secretSQL, Checksum: script.Checksum([]byte(secretSQL)), DependsOn: []string{"b"}, Sensitive: true},
				{Name: "check", Type: script.TypeValidation, SQL: "SELECT count(*) = 1 FROM a;", Checksum: script.Checksum([]byte("SELECT count(*) = 1 FROM a;")), Timeout: 30 * time.Second},
			},
		},
		{
			name:    "missing ConfigMap is not found",
			scripts: []dbv1.MigrationScript{scriptSpec("a", "configmap://nope/001.sql")},
			wantErr: []error{ErrNotFound},
			errHas:  []string{`script "a": ConfigMap team-a/nope not found`},
		},
		{
			name:    "object in another namespace is not found",
			scripts: []dbv1.MigrationScript{scriptSpec("a", "configmap://elsewhere/x.sql")},
			wantErr: []error{ErrNotFound},
		},
		{
			name:    "missing key is not found",
			scripts: []dbv1.MigrationScript{scriptSpec("a", "secret://seed/down.sql")},
			wantErr: []error{ErrNotFound},
			errHas:  []string{`script "a": Secret team-a/seed has no key "down.sql"`},
		},
		{
			name:    "checksum mismatch names script and both checksums",
			scripts: []dbv1.MigrationScript{scriptSpec("a", "configmap://schema/002.sql", withChecksum(script.Checksum([]byte("old"))))},
			wantErr: []error{ErrChecksumMismatch},
			errHas: []string{
				`script "a": checksum mismatch`,
				"expects " + script.Checksum([]byte("old")),
				"checksum is " + script.Checksum([]byte("CREATE TABLE b (id int);")),
			},
		},
		{
			name: "inline checksum is verified too",
			scripts: []dbv1.MigrationScript{scriptSpec("a", "inline", withChecksum(script.Checksum([]byte("x"))),
				func(s *dbv1.MigrationScript) { s.SQL = "y" })},
			wantErr: []error{ErrChecksumMismatch},
		},
		{
			name: "every failing script is reported",
			scripts: []dbv1.MigrationScript{
				scriptSpec("a", "configmap://nope/1"),
				scriptSpec("b", "configmap://schema/001.sql", withChecksum(script.Checksum([]byte("old")))),
				scriptSpec("c", "secret://gone/1"),
			},
			wantErr: []error{ErrNotFound, ErrChecksumMismatch},
			errHas:  []string{`script "a"`, `script "b"`, `script "c"`},
		},
		{
			name:    "bad source URI",
			scripts: []dbv1.MigrationScript{scriptSpec("a", "http://x/y")},
			wantErr: []error{ErrInvalidRef},
			errHas:  []string{`script "a": invalid source "http://x/y"`},
		},
		{
			name: "dependency cycle",
			scripts: []dbv1.MigrationScript{
				scriptSpec("a", "configmap://schema/001.sql", withDeps("b")),
				scriptSpec("b", "configmap://schema/002.sql", withDeps("a")),
			},
			wantErr: []error{ErrInvalidScripts},
			errHas:  []string{"dependsOn cycle: a -> b -> a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			c := fake.NewClientBuilder().WithObjects(sourceObjects()...).Build()
			dbm := fixture.Migration(ns, "m", fixture.WithScripts(tt.scripts...))

			got, err := NewLoader(c).LoadScripts(context.Background(), dbm)
			if len(tt.wantErr) > 0 {
				g.Expect(got).To(BeNil())
				for _, want := range tt.wantErr {
					g.Expect(errors.Is(err, want)).To(BeTrue(), "error %q is not %v", err, want)
				}
				for _, sub := range tt.errHas {
					g.Expect(err.Error()).To(ContainSubstring(sub))
				}
				g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestLoadScriptsErrorsAreTyped(t *testing.T) {
	g := NewWithT(t)
	c := fake.NewClientBuilder().WithObjects(sourceObjects()...).Build()
	dbm := fixture.Migration(ns, "m", fixture.WithScripts(
		scriptSpec("seed", "secret://seed/up.sql", withChecksum(script.Checksum([]byte("expected")))),
		scriptSpec("later", "secret://seed/missing"),
	))

	_, err := NewLoader(c).LoadScripts(context.Background(), dbm)

	var mismatch *ChecksumError
	g.Expect(errors.As(err, &mismatch)).To(BeTrue())
	g.Expect(*mismatch).To(Equal(ChecksumError{
		Owner: `script "seed"`, Expected: script.Checksum([]byte("expected")), Actual: script.Checksum([]byte(secretSQL)),
	}))
	var missing *NotFoundError
	g.Expect(errors.As(err, &missing)).To(BeTrue())
	g.Expect(missing.Ref).To(Equal(Ref{Kind: KindSecret, Name: "seed", Key: "missing"}))
	g.Expect(missing.MissingKey).To(BeTrue())
	g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
}

func TestLoadScriptsAPIErrorIsNeitherNotFoundNorPermanent(t *testing.T) {
	g := NewWithT(t)
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "seed", errors.New("no RBAC"))
	c := fake.NewClientBuilder().WithObjects(sourceObjects()...).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return forbidden
		},
	}).Build()
	dbm := fixture.Migration(ns, "m", fixture.WithScripts(scriptSpec("seed", "secret://seed/up.sql")))

	_, err := NewLoader(c).LoadScripts(context.Background(), dbm)

	g.Expect(err).To(MatchError(ContainSubstring(`script "seed": reading Secret team-a/seed`)))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue())
	g.Expect(errors.Is(err, ErrNotFound)).To(BeFalse())
	g.Expect(errors.Is(err, ErrChecksumMismatch)).To(BeFalse())
}

func TestLoadDesired(t *testing.T) {
	schemaSQL := "CREATE TABLE a (id int);"
	tests := []struct {
		name    string
		desired *dbv1.DesiredSchema
		want    *Desired
		wantErr error
	}{
		{name: "versioned migration has none", desired: nil, want: nil},
		{
			name:    "from a ConfigMap, format defaults to sql",
			desired: &dbv1.DesiredSchema{Source: "configmap://schema/001.sql", Checksum: script.Checksum([]byte(schemaSQL))},
			want:    &Desired{Format: dbv1.SchemaFormatSQL, Text: schemaSQL, Checksum: script.Checksum([]byte(schemaSQL)), Exclude: []string{"audit_*"}},
		},
		{
			name:    "inline HCL",
			desired: &dbv1.DesiredSchema{Source: "inline", SQL: `table "a" {}`, Format: dbv1.SchemaFormatHCL},
			want:    &Desired{Format: dbv1.SchemaFormatHCL, Text: `table "a" {}`, Checksum: script.Checksum([]byte(`table "a" {}`)), Exclude: []string{"audit_*"}},
		},
		{
			name:    "from a Secret, sensitive",
			desired: &dbv1.DesiredSchema{Source: "secret://seed/up.sql"},
			want:    &Desired{Format: dbv1.SchemaFormatSQL, Text: secretSQL, Checksum: script.Checksum([]byte(secretSQL)), Exclude: []string{"audit_*"}, Sensitive: true},
		},
		{
			name:    "checksum mismatch",
			desired: &dbv1.DesiredSchema{Source: "secret://seed/up.sql", Checksum: script.Checksum([]byte("x"))},
			wantErr: ErrChecksumMismatch,
		},
		{
			name:    "missing",
			desired: &dbv1.DesiredSchema{Source: "configmap://schema/9.sql"},
			wantErr: ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			c := fake.NewClientBuilder().WithObjects(sourceObjects()...).Build()
			dbm := fixture.Migration(ns, "m")
			dbm.Spec.Migration.DesiredSchema = tt.desired
			dbm.Spec.Migration.Exclude = []string{"audit_*"}

			got, err := NewLoader(c).LoadDesired(context.Background(), dbm)
			if tt.wantErr != nil {
				g.Expect(err).To(MatchError(tt.wantErr))
				g.Expect(err.Error()).To(HavePrefix("desiredSchema: "))
				g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}
