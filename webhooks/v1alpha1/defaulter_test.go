package v1alpha1

import (
	"testing"

	. "github.com/onsi/gomega"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

func TestDefaultSpecPerType(t *testing.T) {
	for _, tc := range []struct {
		typ      dbv1.DatabaseType
		port     int32
		sslMode  dbv1.SSLMode
		explicit bool
	}{
		{typ: dbv1.DatabaseTypePostgreSQL, port: 5432, sslMode: dbv1.SSLModeRequire},
		{typ: dbv1.DatabaseTypeMySQL, port: 3306, sslMode: dbv1.SSLModeRequire},
		{typ: dbv1.DatabaseTypeMariaDB, port: 3306, sslMode: dbv1.SSLModeRequire},
		{typ: dbv1.DatabaseTypeSQLite, port: 0, sslMode: dbv1.SSLModeDisable},
		{typ: dbv1.DatabaseTypePostgreSQL, port: 6543, sslMode: dbv1.SSLModeVerifyFull, explicit: true},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			g := NewWithT(t)
			dbm := fixture.Migration("ns", "m", fixture.WithServer(tc.typ, "creds", " db.example ", "app"))
			if tc.explicit {
				dbm.Spec.Database.Port, dbm.Spec.Database.SSLMode = tc.port, tc.sslMode
			}
			DefaultSpec(&dbm.Spec)
			g.Expect(dbm.Spec.Database.Port).To(Equal(tc.port))
			g.Expect(dbm.Spec.Database.SSLMode).To(Equal(tc.sslMode))
			g.Expect(dbm.Spec.Database.Host).To(Equal("db.example"))
			g.Expect(dbm.Spec.Migration.Strategy).To(Equal(dbv1.MigrationStrategyTransactional))
			g.Expect(dbm.Spec.Policy.Approval).To(Equal(dbv1.ApprovalRequired))
			g.Expect(dbm.Spec.Policy.Destructive).To(Equal(dbv1.DestructiveBlock))
		})
	}
}

func TestStampIdentity(t *testing.T) {
	approved := func(by, plan string) map[string]string {
		m := map[string]string{dbv1.AnnotationCreatedBy: "dev"}
		if plan != "" {
			m[dbv1.AnnotationApprovedPlan] = plan
		}
		if by != "" {
			m[dbv1.AnnotationApprovedBy] = by
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		old      map[string]string // nil: a create
		written  map[string]string
		user     string
		wantBy   string
		creator  string
		noStamps bool
	}{
		{name: "create stamps the creator over a forged value", written: map[string]string{dbv1.AnnotationCreatedBy: "someone-else"},
			user: "dev", creator: "dev"},
		{name: "create drops a forged approver", written: map[string]string{dbv1.AnnotationApprovedBy: "boss"},
			user: "dev", creator: "dev"},
		{name: "approval stamps the approver over a forged one", old: approved("", ""),
			written: approved("boss", "sha256:1"), user: "reviewer", wantBy: "reviewer", creator: "dev"},
		{name: "unchanged approval keeps the approver", old: approved("reviewer", "sha256:1"),
			written: approved("mallory", "sha256:1"), user: "mallory", wantBy: "reviewer", creator: "dev"},
		{name: "removing the approval removes the approver", old: approved("reviewer", "sha256:1"),
			written: approved("reviewer", ""), user: "dev", creator: "dev"},
		{name: "creator cannot be rewritten on update", old: approved("", ""),
			written: map[string]string{dbv1.AnnotationCreatedBy: "mallory"}, user: "mallory", creator: "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			dbm := fixture.Migration("ns", "m", fixture.WithAnnotations(tc.written))
			var old *dbv1.DatabaseMigration
			if tc.old != nil {
				old = fixture.Migration("ns", "m", fixture.WithAnnotations(tc.old))
			}
			StampIdentity(dbm, old, tc.user)
			g.Expect(dbm.Annotations[dbv1.AnnotationCreatedBy]).To(Equal(tc.creator))
			g.Expect(dbm.Annotations[dbv1.AnnotationApprovedBy]).To(Equal(tc.wantBy))
		})
	}
}
