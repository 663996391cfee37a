package source

import (
	"testing"

	. "github.com/onsi/gomega"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

func TestReferences(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*dbv1.DatabaseMigration)
		want   []Ref
	}{
		{name: "inline scripts on sqlite read nothing", mutate: func(*dbv1.DatabaseMigration) {}, want: nil},
		{
			name: "every source, in spec order, without duplicates",
			mutate: func(dbm *dbv1.DatabaseMigration) {
				dbm.Spec.Database = &dbv1.DatabaseConfig{Type: dbv1.DatabaseTypePostgreSQL, ConnectionSecret: "db-conn", Database: "app"}
				dbm.Spec.Migration.Scripts = []dbv1.MigrationScript{
					scriptSpec("a", "configmap://schema/001.sql"),
					scriptSpec("b", "inline"),
					scriptSpec("c", "secret://seed/up.sql"),
					scriptSpec("d", "configmap://schema/001.sql"),
					scriptSpec("e", "configmap://schema/002.sql"),
					scriptSpec("broken", "ftp://x"),
				}
				dbm.Spec.Migration.DesiredSchema = &dbv1.DesiredSchema{Source: "configmap://desired/schema.hcl"}
				dbm.Spec.Planning = &dbv1.PlanningConfig{DevDatabase: &dbv1.SecretKeyRef{Name: "dev-db"}}
				dbm.Spec.Notifications = &dbv1.NotificationConfig{
					Slack: &dbv1.SlackConfig{Webhook: "slack"},
					Email: &dbv1.EmailConfig{Recipients: []string{"dba@example.com"}, SMTPSecret: "smtp"},
				}
			},
			want: []Ref{
				{Kind: KindConfigMap, Name: "schema", Key: "001.sql"},
				{Kind: KindSecret, Name: "seed", Key: "up.sql"},
				{Kind: KindConfigMap, Name: "schema", Key: "002.sql"},
				{Kind: KindConfigMap, Name: "desired", Key: "schema.hcl"},
				{Kind: KindSecret, Name: "dev-db", Key: "url"},
				{Kind: KindSecret, Name: "db-conn"},
				{Kind: KindSecret, Name: "slack", Key: "url"},
				{Kind: KindSecret, Name: "smtp"},
			},
		},
		{
			name: "dev database key as given",
			mutate: func(dbm *dbv1.DatabaseMigration) {
				dbm.Spec.Planning = &dbv1.PlanningConfig{DevDatabase: &dbv1.SecretKeyRef{Name: "dev", Key: "dsn"}}
				dbm.Spec.Notifications = &dbv1.NotificationConfig{Email: &dbv1.EmailConfig{Recipients: []string{"x@example.com"}}}
			},
			want: []Ref{{Kind: KindSecret, Name: "dev", Key: "dsn"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			dbm := fixture.Migration(ns, "m")
			tt.mutate(dbm)
			g.Expect(References(dbm)).To(Equal(tt.want))
		})
	}
}
