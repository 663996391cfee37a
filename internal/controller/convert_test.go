package controller

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// crdEnum returns the values the CRD allows at a dotted path of its
// schema ("spec.database.type"; "[]" steps into an array's items).
func crdEnum(t *testing.T, path string) []string {
	t.Helper()
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "database.mohitnagaraj.in_databasemigrations.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var crd apiextensionsv1.CustomResourceDefinition
	g.Expect(yaml.Unmarshal(data, &crd)).To(Succeed())
	g.Expect(crd.Spec.Versions).NotTo(BeEmpty())
	props := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	for _, step := range strings.Split(path, ".") {
		if name, ok := strings.CutSuffix(step, "[]"); ok {
			next, found := props.Properties[name]
			g.Expect(found).To(BeTrue(), "%s: no %s", path, name)
			g.Expect(next.Items).NotTo(BeNil(), "%s: %s is not an array", path, name)
			props = next.Items.Schema
			continue
		}
		next, found := props.Properties[step]
		g.Expect(found).To(BeTrue(), "%s: no %s", path, step)
		props = &next
	}
	values := make([]string, len(props.Enum))
	for i, v := range props.Enum {
		g.Expect(json.Unmarshal(v.Raw, &values[i])).To(Succeed())
	}
	g.Expect(values).NotTo(BeEmpty(), "%s has no enum", path)
	return values
}

func strs[T ~string](values ...T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}

func sorted(values []string) []string {
	slices.Sort(values)
	return values
}

// The SQL core's enumerations take the API's strings as they are, so the
// controller converts with a plain conversion. These fail when the API
// gains a value the core does not know, or either side spells one
// differently.
func TestSQLCoreKeepsTheAPIStrings(t *testing.T) {
	t.Run("database types are database kinds and sqlstatic dialects", func(t *testing.T) {
		g := NewWithT(t)
		api := crdEnum(t, "spec.database.type")
		g.Expect(sorted(api)).To(Equal(strs(database.KindPostgreSQL, database.KindMySQL, database.KindMariaDB, database.KindSQLite)))
		g.Expect(sorted(api)).To(Equal(strs(sqlstatic.DialectPostgreSQL, sqlstatic.DialectMySQL, sqlstatic.DialectMariaDB, sqlstatic.DialectSQLite)))
		for _, typ := range []dbv1.DatabaseType{dbv1.DatabaseTypePostgreSQL, dbv1.DatabaseTypeMySQL, dbv1.DatabaseTypeMariaDB, dbv1.DatabaseTypeSQLite} {
			g.Expect(api).To(ContainElement(string(typ)))
			kind := databaseConfig(dbv1.DatabaseConfig{Type: typ}).Kind
			_, err := database.For(kind)
			g.Expect(err).NotTo(HaveOccurred(), "no engine for %s", typ)
			g.Expect(kind.DefaultPort()).To(Equal(typ.DefaultPort()), "%s", typ)
			g.Expect(string(kind.DefaultSSLMode())).To(Equal(string(typ.DefaultSSLMode())), "%s", typ)
		}
	})
	t.Run("ssl modes", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(sorted(crdEnum(t, "spec.database.sslMode"))).To(Equal(strs(
			database.SSLModeDisable, database.SSLModeAllow, database.SSLModePrefer,
			database.SSLModeRequire, database.SSLModeVerifyCA, database.SSLModeVerifyFull)))
	})
	t.Run("script types", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(sorted(crdEnum(t, "spec.migration.scripts[].type"))).To(Equal(strs(script.TypeSchema, script.TypeData, script.TypeValidation)))
		g.Expect(string(script.TypeData)).To(Equal(string(dbv1.ScriptTypeData)))
		g.Expect(string(script.TypeValidation)).To(Equal(string(dbv1.ScriptTypeValidation)))
	})
	t.Run("schema formats", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(sorted(crdEnum(t, "spec.migration.desiredSchema.format"))).To(Equal(strs(planner.SchemaFormatSQL, planner.SchemaFormatHCL)))
		g.Expect(string(planner.SchemaFormatHCL)).To(Equal(string(dbv1.SchemaFormatHCL)))
	})
	t.Run("strategies", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(sorted(crdEnum(t, "spec.migration.strategy"))).To(Equal(strs(planner.Strategies...)))
		g.Expect(string(planner.StrategyBlueGreen)).To(Equal(string(dbv1.MigrationStrategyBlueGreen)))
		g.Expect(string(planner.StrategyShadowTable)).To(Equal(string(dbv1.MigrationStrategyShadowTable)))
	})
	t.Run("diagnostic severities", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(sorted(crdEnum(t, "status.plan.diagnostics[].severity"))).To(Equal(strs(planner.SeverityError, planner.SeverityWarning, planner.SeverityInfo)))
		g.Expect(string(planner.SeverityError)).To(Equal(string(dbv1.SeverityError)))
	})
}

func TestDiagnostics(t *testing.T) {
	g := NewWithT(t)
	g.Expect(diagnostics(nil)).To(BeNil())
	at := int32(3)
	got := diagnostics([]planner.Diagnostic{
		{Code: "DS103", Severity: planner.SeverityError, Text: "dropping non-virtual column", Statement: &at},
		{Code: "KS000", Severity: planner.SeverityWarning, Text: "analyzer failed"},
	})
	g.Expect(got).To(Equal([]dbv1.Diagnostic{
		{Code: "DS103", Severity: dbv1.SeverityError, Text: "dropping non-virtual column", Statement: &at},
		{Code: "KS000", Severity: dbv1.SeverityWarning, Text: "analyzer failed"},
	}))
}

func TestDatabaseConfig(t *testing.T) {
	g := NewWithT(t)
	got := databaseConfig(dbv1.DatabaseConfig{
		Type: dbv1.DatabaseTypeMariaDB, ConnectionSecret: "creds", Host: "m", Port: 3307, Database: "shop", SSLMode: dbv1.SSLModeVerifyCA,
	})
	g.Expect(got).To(Equal(database.Config{Kind: database.KindMariaDB, Host: "m", Port: 3307, Database: "shop", SSLMode: database.SSLModeVerifyCA}))
}

func TestIntegrityOptions(t *testing.T) {
	off, on := false, true
	for _, tc := range []struct {
		name    string
		spec    *dbv1.DataIntegrityChecks
		want    integrity.Options
		enabled bool
	}{
		{name: "absent", spec: nil},
		{name: "disabled", spec: &dbv1.DataIntegrityChecks{Enabled: &off, SamplePercentage: 50}},
		{name: "defaults", spec: &dbv1.DataIntegrityChecks{}, want: integrity.Options{SamplePercentage: 10, Checksum: true}, enabled: true},
		{
			name:    "counts only",
			spec:    &dbv1.DataIntegrityChecks{Enabled: &on, SamplePercentage: 100, ChecksumValidation: &off},
			want:    integrity.Options{SamplePercentage: 100},
			enabled: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			opts, enabled := integrityOptions(tc.spec)
			g.Expect(enabled).To(Equal(tc.enabled))
			g.Expect(opts).To(Equal(tc.want))
		})
	}
}
