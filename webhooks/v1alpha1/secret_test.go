package v1alpha1

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// secretMarker stands for what a Secret-sourced script holds that no
// admission message may show.
const secretMarker = "secret_marker_7f3a"

func TestSecretSourcedSQLIsNeverQuoted(t *testing.T) {
	const uri = "secret://seed/up.sql"
	block := dbv1.Policy{Destructive: dbv1.DestructiveBlock}
	for _, tc := range []struct {
		name, sql, checksum string
		want                []string
	}{
		{name: "destructive", sql: "CREATE TABLE a (id int);\nDROP TABLE " + secretMarker + ";",
			want: []string{"spec.migration.scripts[0].sql: Forbidden: statement 2 (line 2) is destructive (DropTable); destructive statements are refused"}},
		{name: "delete without where", sql: "DELETE FROM " + secretMarker + "_sessions;",
			want: []string{"statement 1 (line 1) is destructive (DeleteWithoutWhere)"}},
		{name: "does not lex", sql: "INSERT INTO t VALUES ('" + secretMarker + ");",
			want: []string{`spec.migration.scripts[0].sql: Invalid value: "` + uri + `": the SQL does not lex`}},
		{name: "checksum mismatch", sql: "INSERT INTO t VALUES ('" + secretMarker + "');", checksum: script.Checksum([]byte("x")),
			want: []string{"spec.migration.scripts[0].checksum", "does not match"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			script := dbv1.MigrationScript{Name: "seed", Type: dbv1.ScriptTypeSchema, Source: uri, Checksum: tc.checksum}
			errs := validateScriptContents(dbv1.DatabaseTypeSQLite, []dbv1.MigrationScript{script}, known(tc.sql), block, sqliteGate, scriptsPath)
			g.Expect(errs).NotTo(BeEmpty())
			msg := errs.ToAggregate().Error()
			for _, w := range tc.want {
				g.Expect(msg).To(ContainSubstring(w))
			}
			g.Expect(msg).NotTo(ContainSubstring(secretMarker))

			// The same script inline is quoted: only a Secret hides it.
			script.Source, script.SQL = "inline", tc.sql
			inline := validateScriptContents(dbv1.DatabaseTypeSQLite, []dbv1.MigrationScript{script}, known(tc.sql), block, sqliteGate, scriptsPath)
			if tc.checksum == "" {
				g.Expect(inline.ToAggregate().Error()).To(ContainSubstring(secretMarker))
			}
		})
	}

	t.Run("desired schema", func(t *testing.T) {
		g := NewWithT(t)
		sql := "CREATE TABLE " + secretMarker + " (note TEXT DEFAULT 'unterminated);"
		errs := validateDesiredSchema(dbv1.DatabaseTypeSQLite, &dbv1.DesiredSchema{Source: uri}, scriptText{sql: sql, known: true}, sqliteGate, field.NewPath("spec", "migration", "desiredSchema"))
		g.Expect(errs).To(HaveLen(1))
		g.Expect(errs[0].BadValue).To(Equal(uri))
		g.Expect(errs.ToAggregate().Error()).NotTo(ContainSubstring(secretMarker))
	})
}

var _ = Describe("admission of a Secret-sourced script", func() {
	ctx := context.Background()

	It("denies a destructive one without quoting it", func() {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "cleanup-sql"},
			Data:       map[string][]byte{"up.sql": []byte("CREATE TABLE a (id int);\nDROP TABLE " + secretMarker + ";")},
		}
		Expect(admin.Create(ctx, secret)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, secret)

		dbm := fixture.Migration(testNamespace, "secret-destructive", fixture.WithScripts(
			dbv1.MigrationScript{Name: "cleanup", Type: dbv1.ScriptTypeSchema, Source: "secret://cleanup-sql/up.sql"}))
		err := dev.Create(ctx, dbm)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.migration.scripts[0].sql: Forbidden: statement 2 (line 2) is destructive (DropTable)"))
		Expect(err.Error()).NotTo(ContainSubstring(secretMarker))
	})
})
