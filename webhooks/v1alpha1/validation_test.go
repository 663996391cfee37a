package v1alpha1

import (
	"context"
	"os"
	"testing"

	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var scriptsPath = field.NewPath("spec", "migration", "scripts")

func known(sql ...string) []scriptText {
	out := make([]scriptText, len(sql))
	for i, s := range sql {
		out[i] = scriptText{sql: s, known: true}
	}
	return out
}

func TestValidateScriptNames(t *testing.T) {
	s := fixture.InlineScript
	for _, tc := range []struct {
		name    string
		scripts []dbv1.MigrationScript
		want    []string // substrings, one per expected error
	}{
		{name: "a valid DAG", scripts: []dbv1.MigrationScript{s("a", "x"), s("b", "x", "a"), s("c", "x", "a", "b")}},
		{name: "duplicate name", scripts: []dbv1.MigrationScript{s("a", "x"), s("a", "y")},
			want: []string{"spec.migration.scripts[1].name: Duplicate value"}},
		{name: "unknown dependency", scripts: []dbv1.MigrationScript{s("a", "x", "nope")},
			want: []string{`spec.migration.scripts[0].dependsOn[0]: Not found: "nope"`}},
		{name: "self dependency", scripts: []dbv1.MigrationScript{s("a", "x", "a")},
			want: []string{"a script cannot depend on itself"}},
		{name: "cycle", scripts: []dbv1.MigrationScript{s("a", "x", "c"), s("b", "x", "a"), s("c", "x", "b")},
			want: []string{"cycle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			errs := validateScriptNames(tc.scripts, scriptsPath)
			g.Expect(errs).To(HaveLen(len(tc.want)), "%v", errs)
			for i, w := range tc.want {
				g.Expect(errs[i].Error()).To(ContainSubstring(w))
			}
		})
	}
}

func TestValidateScriptContents(t *testing.T) {
	block := dbv1.Policy{Destructive: dbv1.DestructiveBlock}
	allow := dbv1.Policy{Destructive: dbv1.DestructiveAllowWithApproval}
	for _, tc := range []struct {
		name   string
		script dbv1.MigrationScript
		text   []scriptText
		policy dbv1.Policy
		want   []string
	}{
		{name: "safe SQL", script: fixture.InlineScript("a", "CREATE TABLE t (id int);"), policy: block},
		{name: "drop table under block", script: fixture.InlineScript("a", "CREATE TABLE t (id int);\nDROP TABLE users;"), policy: block,
			want: []string{"DROP TABLE users"}},
		{name: "drop table allowed with approval", script: fixture.InlineScript("a", "DROP TABLE users;"), policy: allow},
		{name: "delete without where", script: fixture.InlineScript("a", "DELETE FROM sessions;"), policy: block,
			want: []string{"DELETE FROM sessions"}},
		{name: "does not lex", script: fixture.InlineScript("a", "INSERT INTO t VALUES ('unterminated);"), policy: block,
			want: []string{"does not lex"}},
		{name: "checksum mismatch", policy: block, script: func() dbv1.MigrationScript {
			sc := fixture.InlineScript("a", "CREATE TABLE t (id int);")
			sc.Checksum = script.Checksum([]byte("something else"))
			return sc
		}(), want: []string{"spec.migration.scripts[0].checksum", "does not match"}},
		{name: "checksum match", policy: block, script: func() dbv1.MigrationScript {
			sc := fixture.InlineScript("a", "CREATE TABLE t (id int);")
			sc.Checksum = script.Checksum([]byte(sc.SQL))
			return sc
		}()},
		{name: "bad source URI", script: dbv1.MigrationScript{Name: "a", Source: "http://x/y"}, policy: block,
			text: []scriptText{{}}, want: []string{"spec.migration.scripts[0].source"}},
		{name: "unknown ConfigMap content is not linted", script: dbv1.MigrationScript{Name: "a", Source: "configmap://m/k"},
			text: []scriptText{{}}, policy: block},
		{name: "a validation script that queries", policy: block, script: func() dbv1.MigrationScript {
			sc := fixture.InlineScript("check", "SELECT count(*) = 0 FROM users WHERE email IS NULL;")
			sc.Type = dbv1.ScriptTypeValidation
			return sc
		}()},
		{name: "a validation script that writes", policy: allow, script: func() dbv1.MigrationScript {
			sc := fixture.InlineScript("check", "UPDATE users SET role = 'admin' WHERE id = 7;\nSELECT 1;")
			sc.Type = dbv1.ScriptTypeValidation
			return sc
		}(), want: []string{"spec.migration.scripts[0].sql: Forbidden: statement 1 is not a query: a validation script may only read"}},
		{name: "the same statements in a data script", policy: allow, script: func() dbv1.MigrationScript {
			sc := fixture.InlineScript("backfill", "UPDATE users SET role = 'admin' WHERE id = 7;\nSELECT 1;")
			sc.Type = dbv1.ScriptTypeData
			return sc
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			text := tc.text
			if text == nil {
				text = known(tc.script.SQL)
			}
			errs := validateScriptContents(dbv1.DatabaseTypeSQLite, []dbv1.MigrationScript{tc.script}, text, tc.policy, sqliteGate, scriptsPath)
			if len(tc.want) == 0 {
				g.Expect(errs).To(BeEmpty())
				return
			}
			g.Expect(errs).NotTo(BeEmpty())
			for _, w := range tc.want {
				g.Expect(errs.ToAggregate().Error()).To(ContainSubstring(w))
			}
		})
	}
}

func TestValidateStrategy(t *testing.T) {
	g := NewWithT(t)
	g.Expect(validateStrategy(dbv1.MigrationStrategyTransactional, field.NewPath("s"))).To(BeEmpty())
	g.Expect(validateStrategy(dbv1.MigrationStrategyRolling, field.NewPath("s"))).To(BeEmpty())
	g.Expect(validateStrategy(dbv1.MigrationStrategyShadowTable, field.NewPath("s"))).To(BeEmpty())
	g.Expect(validateStrategy(dbv1.MigrationStrategyBlueGreen, field.NewPath("s"))).To(BeEmpty())
	errs := validateStrategy("canary", field.NewPath("s"))
	g.Expect(errs).To(HaveLen(1))
	g.Expect(errs[0].Error()).To(ContainSubstring(`strategy "canary" is not implemented yet`))
}

func TestValidateAppliedScripts(t *testing.T) {
	applied := dbv1.DatabaseMigrationStatus{LastApplied: &dbv1.AppliedRevision{PlanHash: "sha256:1",
		Scripts: []dbv1.PlannedScript{{Name: "a", Checksum: script.Checksum([]byte("CREATE TABLE a (id int);"))}}}}
	a := fixture.InlineScript("a", "CREATE TABLE a (id int);")
	edited := fixture.InlineScript("a", "CREATE TABLE a (id bigint);")
	b := fixture.InlineScript("b", "CREATE TABLE b (id int);")

	g := NewWithT(t)
	g.Expect(validateAppliedScripts(applied, []dbv1.MigrationScript{a, b}, known(a.SQL, b.SQL), scriptsPath)).To(BeEmpty())
	errs := validateAppliedScripts(applied, []dbv1.MigrationScript{edited}, known(edited.SQL), scriptsPath)
	g.Expect(errs).To(HaveLen(1))
	g.Expect(errs[0].Error()).To(ContainSubstring(`script "a" was applied`))
	errs = validateAppliedScripts(applied, []dbv1.MigrationScript{b}, known(b.SQL), scriptsPath)
	g.Expect(errs).To(HaveLen(1))
	g.Expect(errs[0].Error()).To(ContainSubstring("cannot be removed"))
}

func TestValidateApproval(t *testing.T) {
	plan := &dbv1.PlanStatus{Hash: "sha256:current"}
	withPlan := func(p *dbv1.PlanStatus, opts ...fixture.Option) *dbv1.DatabaseMigration {
		dbm := fixture.Migration("ns", "m", append(opts, fixture.WithAnnotations(map[string]string{dbv1.AnnotationCreatedBy: "dev"}))...)
		dbm.Status.Plan = p
		return dbm
	}
	reviewer := authnv1.UserInfo{Username: "rita", Groups: []string{"dba"}}
	for _, tc := range []struct {
		name string
		dbm  *dbv1.DatabaseMigration
		hash string
		user authnv1.UserInfo
		want []string
	}{
		{name: "current hash by another user", dbm: withPlan(plan), hash: plan.Hash, user: reviewer},
		{name: "no plan yet", dbm: withPlan(nil), hash: "sha256:x", user: reviewer, want: []string{"no plan to approve yet"}},
		{name: "stale hash", dbm: withPlan(plan), hash: "sha256:old", user: reviewer, want: []string{"does not match the current plan sha256:current"}},
		{name: "self approval", dbm: withPlan(plan), hash: plan.Hash, user: authnv1.UserInfo{Username: "dev"},
			want: []string{`"dev" created this migration`}},
		{name: "destructive under block", dbm: withPlan(&dbv1.PlanStatus{Hash: "sha256:d", Destructive: true}), hash: "sha256:d",
			user: reviewer, want: []string{"the plan is destructive"}},
		{name: "destructive under allowWithApproval", hash: "sha256:d", user: reviewer,
			dbm: withPlan(&dbv1.PlanStatus{Hash: "sha256:d", Destructive: true},
				fixture.WithPolicy(dbv1.Policy{Destructive: dbv1.DestructiveAllowWithApproval}))},
		{name: "a user who changed the spec", hash: plan.Hash, user: reviewer,
			dbm:  withPlan(plan, fixture.WithAnnotations(map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: `["dev","rita"]`})),
			want: []string{`"rita" changed this migration's spec`}},
		{name: "listed group", hash: plan.Hash, user: reviewer,
			dbm: withPlan(plan, fixture.WithPolicy(dbv1.Policy{Reviewers: []dbv1.Reviewer{{Kind: dbv1.SubjectGroup, Name: "dba"}}}))},
		{name: "not listed", hash: plan.Hash, user: authnv1.UserInfo{Username: "bob"},
			dbm:  withPlan(plan, fixture.WithPolicy(dbv1.Policy{Reviewers: []dbv1.Reviewer{{Kind: dbv1.SubjectUser, Name: "rita"}}})),
			want: []string{`"bob" is not among spec.policy.reviewers`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			errs := validateApproval(tc.dbm, tc.dbm.Spec.Policy, &approvalChange{key: dbv1.AnnotationApprovedPlan, hash: tc.hash, user: tc.user})
			g.Expect(errs).To(HaveLen(len(tc.want)), "%v", errs)
			for i, w := range tc.want {
				g.Expect(errs[i].Error()).To(ContainSubstring(w))
			}
		})
	}
}

func TestValidateReviewersRefusesEveryone(t *testing.T) {
	path := field.NewPath("spec", "policy", "reviewers")
	for _, tc := range []struct {
		name   string
		refuse bool
	}{
		{"system:authenticated", true},
		{"system:unauthenticated", true},
		{"system:serviceaccounts", true},
		{"system:serviceaccounts:team-a", true},
		{"*", true},
		{"dba", false},
		{"rita", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			errs := validateReviewers([]dbv1.Reviewer{{Kind: dbv1.SubjectGroup, Name: tc.name}}, path)
			if !tc.refuse {
				g.Expect(errs).To(BeEmpty())
				return
			}
			g.Expect(errs).To(HaveLen(1))
			g.Expect(errs[0].Field).To(Equal("spec.policy.reviewers[0].name"))
			g.Expect(errs[0].Detail).To(ContainSubstring("names every user or workload"))
		})
	}
}

func TestNotActedOnWarnsForOriginalFields(t *testing.T) {
	g := NewWithT(t)
	dbm := fixture.Migration("ns", "m")
	g.Expect(notActedOn(&dbm.Spec)).To(BeEmpty())
	dbm.Spec.Migration.Parallel = true
	dbm.Spec.Notifications = &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "s"}}
	g.Expect(notActedOn(&dbm.Spec)).To(ConsistOf("spec.migration.parallel (outside the rolling strategy)"))
	dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyRolling
	g.Expect(notActedOn(&dbm.Spec)).To(BeEmpty())
}

func TestUnmeasurableThresholdsAreSaidSo(t *testing.T) {
	g := NewWithT(t)
	dbm := fixture.Migration("ns", "m")
	g.Expect(unmeasurable(&dbm.Spec)).To(BeEmpty())
	dbm.Spec.Validation = &dbv1.ValidationConfig{PerformanceThresholds: &dbv1.PerformanceThresholds{MaxCPUUsage: "80%", MaxMemoryUsage: "70%"}}
	g.Expect(unmeasurable(&dbm.Spec)).To(ConsistOf(
		ContainSubstring("maxCpuUsage is not checked: PostgreSQL, MySQL and MariaDB report no host CPU"),
		ContainSubstring("maxMemoryUsage is not checked"),
	))
}

// sqliteGate is admission's gate for a SQLite migration, with nothing allowed.
var sqliteGate = gateFor(dbv1.DatabaseConfig{Type: dbv1.DatabaseTypeSQLite}, nil)

func TestValidateScriptsRefuseSQLThatReachesOut(t *testing.T) {
	grant := "CREATE TABLE t (id int);\nGRANT SELECT ON t TO reporting_team;"
	pg := dbv1.DatabaseConfig{Type: dbv1.DatabaseTypePostgreSQL, Database: "shop"}
	mysql := dbv1.DatabaseConfig{Type: dbv1.DatabaseTypeMySQL, Database: "app"}
	block := dbv1.Policy{Destructive: dbv1.DestructiveBlock}
	for _, tc := range []struct {
		name  string
		db    dbv1.DatabaseConfig
		sql   string
		allow map[sqlstatic.Reach]bool
		want  []string // whole errors
	}{
		{name: "GRANT refused", db: pg, sql: grant, want: []string{
			`spec.migration.scripts[0].sql: Forbidden: statement 2 (line 2) grants or revokes privileges (GRANT): role and privilege statements ` +
				`reach outside the migration's database; a platform administrator can allow them with --allow-sql=privilege`}},
		{name: "GRANT admitted when the platform allows privilege", db: pg, sql: grant, allow: map[sqlstatic.Reach]bool{sqlstatic.ReachPrivilege: true}},
		{name: "another kind stays refused", db: pg, sql: "CREATE ROLE evil SUPERUSER;", allow: map[sqlstatic.Reach]bool{sqlstatic.ReachPrivilege: true},
			want: []string{`spec.migration.scripts[0].sql: Forbidden: statement 1 (line 1) creates a role: role and privilege statements reach outside ` +
				`the migration's database; a platform administrator can allow them with --allow-sql=role`}},
		{name: "another database on MySQL", db: mysql, sql: "UPDATE proddb.users SET a = 1 WHERE id = 2;", want: []string{
			`spec.migration.scripts[0].sql: Forbidden: statement 1 (line 1) names a table in another schema or database: names qualified by anything ` +
				`but "app" or a built-in catalog reach outside the migration's schema; a platform administrator can allow them with --allow-sql=other-schema`}},
		{name: "the migration's own database on MySQL", db: mysql, sql: "INSERT INTO app.t VALUES (1);"},
		{name: "the default schema on PostgreSQL", db: pg, sql: "ALTER TABLE public.users ADD COLUMN x int;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			script := fixture.InlineScript("a", tc.sql)
			errs := validateScriptContents(tc.db.Type, []dbv1.MigrationScript{script}, known(tc.sql), block, gateFor(tc.db, tc.allow), scriptsPath)
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()
				g.Expect(got[i]).NotTo(ContainSubstring("reporting_team"), "admission quotes the script")
				g.Expect(got[i]).NotTo(ContainSubstring("proddb"), "admission quotes the script")
			}
			g.Expect(got).To(ConsistOf(tc.want))
		})
	}
}

// TestValidatorGatesThroughAllowSQL: the Validator's AllowSQL (the
// manager's --allow-sql) decides, for scripts and the desired schema alike.
func TestValidatorGatesThroughAllowSQL(t *testing.T) {
	g := NewWithT(t)
	dbm := fixture.Migration("ns", "m",
		fixture.WithDesiredSchema("CREATE TABLE t (id int);\nPRAGMA writable_schema = 1;"),
		fixture.WithScripts(fixture.InlineScript("a", "ATTACH DATABASE '/var/lib/other.db' AS other;")))

	errs, _ := (&Validator{SQLiteRoot: os.TempDir()}).validateSpec(context.Background(), dbm)
	g.Expect(errs).To(HaveLen(2))
	g.Expect(errs[0].Field).To(Equal("spec.migration.scripts[0].sql"))
	g.Expect(errs[0].Type).To(Equal(field.ErrorTypeForbidden))
	g.Expect(errs[0].Detail).To(HavePrefix("statement 1 (line 1) attaches another database file (ATTACH)"))
	g.Expect(errs[1].Field).To(Equal("spec.migration.desiredSchema.sql"))
	g.Expect(errs[1].Detail).To(HavePrefix("statement 2 (line 2) changes a database setting or reads files with PRAGMA"))
	g.Expect(errs.ToAggregate().Error()).NotTo(ContainSubstring("/var/lib/other.db"))

	errs, _ = (&Validator{SQLiteRoot: os.TempDir(), AllowSQL: map[sqlstatic.Reach]bool{sqlstatic.ReachSystem: true}}).validateSpec(context.Background(), dbm)
	g.Expect(errs).To(BeEmpty())
}
