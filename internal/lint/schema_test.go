package lint

import (
	"bytes"
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime/schema"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

func TestSchemasOfEveryKind(t *testing.T) {
	g := NewWithT(t)
	crds, err := schemas()
	g.Expect(err).NotTo(HaveOccurred())
	for _, kind := range []string{"DatabaseMigration", dbv1.KindDatabaseTarget, dbv1.KindClusterDatabaseTarget} {
		g.Expect(crds).To(HaveKey(schema.GroupVersionKind{Group: dbv1.GroupVersion.Group, Version: dbv1.GroupVersion.Version, Kind: kind}))
	}
	g.Expect(crds[dbv1.GroupVersion.WithKind(dbv1.KindClusterDatabaseTarget)].namespaced).To(BeFalse())
}

// targets break their CRDs' CEL rules; the migration is fine, so only the
// targets' findings are reported, each under its own kind.
const targets = `apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseTarget
metadata:
  name: shop
spec:
  type: postgresql
  host: pg
  database: shop
  connectionSecret:
    name: shop-db
    namespace: elsewhere
---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: ClusterDatabaseTarget
metadata:
  name: reports
spec:
  type: mysql
  database: reports
  sizeOfPool: 4
  allowedNamespaces:
    names: [team-a]
---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: fine
spec:
  database:
    type: sqlite
    database: shop.db
  migration:
    scripts:
    - name: create
      type: schema
      source: inline
      sql: CREATE TABLE t (id INTEGER PRIMARY KEY);
`

func TestTargetsAgainstTheirSchema(t *testing.T) {
	g := NewWithT(t)
	s := testScheme(t)
	docs, err := Parse(s, "targets.yaml", []byte(targets))
	g.Expect(err).NotTo(HaveOccurred())
	report, err := Run(context.Background(), s, docs, Options{Namespace: "team-a"})
	g.Expect(err).NotTo(HaveOccurred())
	type seen struct{ kind, object, field, message string }
	var got []seen
	for _, f := range report.Findings {
		got = append(got, seen{f.Kind, f.Object(), f.Field, f.Message})
	}
	g.Expect(got).To(ConsistOf(
		seen{dbv1.KindDatabaseTarget, "DatabaseTarget team-a/shop", "spec", "Invalid value: a DatabaseTarget's connectionSecret is in its own namespace: connectionSecret.namespace is for ClusterDatabaseTargets"},
		seen{dbv1.KindClusterDatabaseTarget, "ClusterDatabaseTarget reports", "spec.sizeOfPool", `strict decoding error: unknown field "spec.sizeOfPool"`},
	))
	var out bytes.Buffer
	g.Expect(Write(&out, "text", report)).To(Succeed())
	g.Expect(out.String()).To(ContainSubstring("targets.yaml:5: error: DatabaseTarget team-a/shop: spec: Invalid value: a DatabaseTarget's connectionSecret"))
	g.Expect(out.String()).To(ContainSubstring(`targets.yaml:20: error: ClusterDatabaseTarget reports: strict decoding error: unknown field "spec.sizeOfPool"`))

	// Without the unknown field, the missing host is what the server
	// refuses.
	docs, err = Parse(s, "targets.yaml", bytes.Replace([]byte(targets), []byte("  sizeOfPool: 4\n"), nil, 1))
	g.Expect(err).NotTo(HaveOccurred())
	report, err = Run(context.Background(), s, docs, Options{Namespace: "team-a"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(report.Findings).To(ContainElement(HaveField("Message", "Invalid value: host is required for a database server")))
}
