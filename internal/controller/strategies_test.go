package controller

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/faultproxy"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("strategies, rollback and MariaDB pre-checks", func() {
	const ns = "default"
	ctx := context.Background()

	reasons := func(dbm *dbv1.DatabaseMigration) func() []string {
		return func() []string {
			var list eventsv1.EventList
			Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			var out []string
			for _, e := range list.Items {
				if e.Regarding.UID == dbm.UID {
					out = append(out, e.Reason)
				}
			}
			return out
		}
	}
	// serverMigration makes a Secret holding dbURL and a migration of
	// that database, without TLS as the test servers' URLs say.
	serverMigration := func(name string, t dbv1.DatabaseType, dbURL string) *dbv1.DatabaseMigration {
		GinkgoHelper()
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-creds"}, StringData: map[string]string{"url": dbURL}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, secret)
		dbm := fixture.Migration(ns, name, fixture.WithServer(t, secret.Name, u.Hostname(), strings.TrimPrefix(u.Path, "/")))
		dbm.Spec.Database.Port = urlPort(u)
		dbm.Spec.Database.SSLMode = dbv1.SSLModeDisable
		return dbm
	}
	exec := func(db *sql.DB, stmts ...string) {
		GinkgoHelper()
		for _, stmt := range stmts {
			_, err := db.Exec(stmt)
			Expect(err).NotTo(HaveOccurred(), stmt)
		}
	}
	// postgres makes a PostgreSQL database set up with setup, and a
	// migration of it.
	postgres := func(name string, setup ...string) (*dbv1.DatabaseMigration, *sql.DB, string) {
		GinkgoHelper()
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		db := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		exec(db, setup...)
		return serverMigration(name, dbv1.DatabaseTypePostgreSQL, dbURL), db, dbURL
	}
	// mariadb makes a MariaDB database holding users with two of the same
	// name, and a migration of it running scripts.
	mariadb := func(name string, scripts ...dbv1.MigrationScript) (*dbv1.DatabaseMigration, *sql.DB) {
		GinkgoHelper()
		dbURL := dbtest.NewMySQLDatabase(GinkgoTB())
		db := dbtest.OpenMySQL(GinkgoTB(), dbURL)
		exec(db,
			"CREATE TABLE users (id int NOT NULL, name varchar(50) NOT NULL, email varchar(100), PRIMARY KEY (id))",
			"INSERT INTO users VALUES (1, 'alice', 'a@example.com'), (2, 'bob', NULL), (3, 'alice', NULL)")
		dbm := serverMigration(name, dbv1.DatabaseTypeMariaDB, dbURL)
		dbm.Spec.Migration.Scripts = scripts
		return dbm, db
	}
	mysqlTables := func(db *sql.DB) []string {
		GinkgoHelper()
		rows, err := db.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name")
		Expect(err).NotTo(HaveOccurred())
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			Expect(rows.Scan(&n)).To(Succeed())
			out = append(out, n)
		}
		return out
	}
	mysqlColumns := func(db *sql.DB, table string) []string {
		GinkgoHelper()
		rows, err := db.Query("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position", table)
		Expect(err).NotTo(HaveOccurred())
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			Expect(rows.Scan(&n)).To(Succeed())
			out = append(out, n)
		}
		return out
	}
	threeSteps := []dbv1.MigrationScript{
		fixture.InlineScript("tags", "CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));"),
		fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;", "tags"),
		fixture.InlineScript("unique-name", "CREATE UNIQUE INDEX users_name_key ON users (name);", "age"),
	}

	It("runs a rolling migration step by step and shows each step in status.rolling", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "rolling", fixture.WithSQLite(path),
			fixture.WithStrategy(dbv1.MigrationStrategyRolling), fixture.WithScripts(
				fixture.InlineScript("a", "CREATE TABLE a (id INTEGER PRIMARY KEY);"),
				fixture.InlineScript("b", "CREATE TABLE b (id INTEGER PRIMARY KEY);", "a"),
				fixture.InlineScript("c", "CREATE INDEX b_id ON b (id);", "b"),
			)))
		plan := approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		dbm = get(dbm)
		Expect(dbm.Status.LastApplied.PlanHash).To(Equal(plan.Hash))
		Expect(dbm.Status.Rolling).To(Equal(&dbv1.RollingStatus{Phase: dbv1.RollingCompleted, TotalSteps: 3, CurrentStep: 3, RollbackPoint: 3}))
		Expect(tables(path)).To(ContainElements("a", "b"))
		Expect(revisionCount(path)).To(Equal(1))
	})

	It("rolls a partial MariaDB apply back automatically: RollingBack, then Failed with the reason", func() {
		dbm, db := mariadb("mariadb-rollback", threeSteps...)
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true)}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonApplyFailed))
		Expect(dbm.Status.Message).To(ContainSubstring("statement 3 of 3 failed (script unique-name"))
		Expect(dbm.Status.Message).To(ContainSubstring("the plan was rolled back, nothing was applied"))
		Expect(mysqlTables(db)).To(Equal([]string{"kube_shift_revisions", "users"}))
		Expect(mysqlColumns(db, "users")).To(Equal([]string{"id", "name", "email"}))
		Eventually(reasons(dbm)).Should(ContainElements(dbv1.ReasonRollingBack, dbv1.ReasonRolledBack, dbv1.ReasonApplyFailed))
		var status string
		Expect(db.QueryRow("SELECT status FROM kube_shift_revisions ORDER BY id DESC LIMIT 1").Scan(&status)).To(Succeed())
		Expect(status).To(Equal("rolled back"))
	})

	It("leaves a partial MariaDB apply where it stopped without automatic rollback, and says so", func() {
		dbm, db := mariadb("mariadb-partial", threeSteps...)
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		Expect(get(dbm).Status.Message).To(ContainSubstring("statements 1 to 2 stay applied"))
		Expect(mysqlTables(db)).To(ContainElement("tags"))
	})

	It("resumes a MariaDB apply whose connection the network cut mid-apply, and applies each statement once", func() {
		dbURL := dbtest.NewMySQLDatabase(GinkgoTB())
		db := dbtest.OpenMySQL(GinkgoTB(), dbURL)
		exec(db, "CREATE TABLE users (id int NOT NULL, PRIMARY KEY (id))", "INSERT INTO users VALUES (1), (2), (3)")
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		// The manager reaches the server through a proxy the spec cuts.
		proxy, err := faultproxy.Start(u.Host)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		u.Host = proxy.Addr()
		dbm := serverMigration("mariadb-cut", dbv1.DatabaseTypeMariaDB, u.String())
		// Automatic rollback is on: a broken connection is not the
		// plan's failure, so the apply resumes rather than rolls back.
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true)}
		dbm.Spec.Migration.Scripts = []dbv1.MigrationScript{
			fixture.InlineScript("a", "ALTER TABLE users ADD COLUMN a int;\nSELECT SLEEP(3);\nALTER TABLE users ADD COLUMN b int;"),
		}
		create(dbm)
		plan := approvePlan(dbm)
		By("cutting every connection while the apply sleeps after its first statement")
		Eventually(func() []string { return mysqlColumns(db, "users") }).Should(ContainElement("a"))
		Eventually(func() (int, error) {
			var n int
			err := db.QueryRow("SELECT count(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP%'").Scan(&n)
			return n, err
		}).Should(Equal(1))
		proxy.Drop()

		Eventually(phase(dbm), "60s").Should(Equal(dbv1.PhaseSucceeded))
		dbm = get(dbm)
		Expect(dbm.Status.LastApplied.PlanHash).To(Equal(plan.Hash))
		Expect(reasons(dbm)()).To(ContainElement(dbv1.ReasonDatabaseUnreachable), "the cut was reported, then retried")
		Expect(reasons(dbm)()).NotTo(ContainElement(dbv1.ReasonRollingBack))
		Expect(mysqlColumns(db, "users")).To(Equal([]string{"id", "a", "b"}))
		var status string
		var done, total, rows int
		Expect(db.QueryRow("SELECT count(*) FROM kube_shift_revisions").Scan(&rows)).To(Succeed())
		Expect(rows).To(Equal(1), "the cut-short revision was finished, not a second one opened")
		Expect(db.QueryRow("SELECT status, statements_done, statements_total FROM kube_shift_revisions").Scan(&status, &done, &total)).To(Succeed())
		Expect([]any{status, done, total}).To(Equal([]any{"succeeded", 3, 3}))
	})

	It("rolls a failed rolling step back on MariaDB and resumes nothing after it", func() {
		dbm, db := mariadb("mariadb-rolling", threeSteps...)
		dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyRolling
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true)}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Rolling.Phase).To(Equal(dbv1.RollingRolledBack))
		Expect(dbm.Status.Rolling.FailedSteps).To(Equal([]string{"unique-name"}))
		Expect(dbm.Status.Rolling.TotalSteps).To(Equal(int32(3)))
		Expect(mysqlTables(db)).To(Equal([]string{"kube_shift_revisions", "users"}))
		Expect(mysqlColumns(db, "users")).To(Equal([]string{"id", "name", "email"}))
	})

	It("stops an apply that blocks writers longer than maxDowntime and rolls it back", func() {
		dbm, db, _ := postgres("downtime")
		dbm.Spec.Migration.Scripts = []dbv1.MigrationScript{fixture.InlineScript("slow", "CREATE TABLE t (id int);\nSELECT pg_sleep(3);")}
		dbm.Spec.Validation = &dbv1.ValidationConfig{PerformanceThresholds: &dbv1.PerformanceThresholds{MaxDowntime: &metav1.Duration{Duration: 200 * 1e6}}}
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true), Conditions: []dbv1.RollbackCondition{dbv1.RollbackOnPerformanceDegradation}}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonMaxDowntimeExceeded))
		Expect(dbm.Status.Message).To(ContainSubstring("longer than maxDowntime"))
		var n int
		Expect(db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name = 't'`).Scan(&n)).To(Succeed())
		Expect(n).To(BeZero(), fmt.Sprintf("the transaction was rolled back: %s", dbm.Status.Message))
	})

	It("stops at the MariaDB pre-checks when the user lacks ALTER and the database is over the disk threshold", func() {
		dbm, admin := mariadb("mariadb-limited", threeSteps[:2]...)
		dbName := dbm.Spec.Database.Database
		user := fmt.Sprintf("limited_%d", GinkgoRandomSeed()%100000)
		_, err := admin.Exec(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'limited-pw'", user))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _, _ = admin.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
		_, err = admin.Exec(fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX ON `%s`.* TO '%s'@'%%'", dbName, user))
		Expect(err).NotTo(HaveOccurred())

		// The limited user's Secret (planning replays on the dev server,
		// so the user needs no right to create databases).
		var secret corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: dbm.Spec.Database.ConnectionSecret}, &secret)).To(Succeed())
		u, err := url.Parse(string(secret.Data["url"]))
		Expect(err).NotTo(HaveOccurred())
		u.User = url.UserPassword(user, "limited-pw")
		limited := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mariadb-limited-user"},
			StringData: map[string]string{"url": u.String()}}
		Expect(k8sClient.Create(ctx, limited)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, limited)
		dbm.Spec.Database.ConnectionSecret = limited.Name
		dbm.Spec.Validation = &dbv1.ValidationConfig{PreChecks: []dbv1.PreCheck{
			{Type: dbv1.PreCheckConnection}, {Type: dbv1.PreCheckPermissions}, {Type: dbv1.PreCheckDiskSpace, Threshold: "1KB"},
		}}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonPreCheckFailed))
		Expect(dbm.Status.PreChecks).To(ConsistOf(
			SatisfyAll(HaveField("Type", dbv1.PreCheckConnection), HaveField("Outcome", dbv1.PreCheckPassed), HaveField("Message", ContainSubstring("MariaDB"))),
			SatisfyAll(HaveField("Type", dbv1.PreCheckPermissions), HaveField("Outcome", dbv1.PreCheckFailed), HaveField("Message", ContainSubstring("ALTER on database "+dbName))),
			SatisfyAll(HaveField("Type", dbv1.PreCheckDiskSpace), HaveField("Outcome", dbv1.PreCheckFailed), HaveField("Message", ContainSubstring("over the threshold 1KB"))),
		))
		Expect(fmt.Sprint(dbm.Status)).NotTo(ContainSubstring("limited-pw"))
		Expect(mysqlTables(admin)).To(Equal([]string{"users"}), "nothing was applied, not even the revision table")
	})

	It("fails on a data integrity mismatch and rolls the apply back, rows included, on PostgreSQL", func() {
		dbm, db, _ := postgres("integrity",
			"CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL)",
			"CREATE TABLE audit (id int PRIMARY KEY, note text)",
			"INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 50) g",
			"INSERT INTO audit SELECT g, 'note ' || g FROM generate_series(1, 20) g")
		dbm.Spec.Migration.Scripts = []dbv1.MigrationScript{
			// A schema script that loses a row: what the check is for.
			fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;\nDELETE FROM users WHERE id = 7;"),
			// A data script may change the table it writes.
			{Name: "prune-audit", Type: dbv1.ScriptTypeData, Source: "inline", SQL: "DELETE FROM audit WHERE id > 10;", DependsOn: []string{"age"}},
		}
		dbm.Spec.Policy.Destructive = dbv1.DestructiveAllowWithApproval
		dbm.Spec.Validation = &dbv1.ValidationConfig{DataIntegrityChecks: &dbv1.DataIntegrityChecks{Enabled: ptr.To(true), SamplePercentage: 100}}
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true), Conditions: []dbv1.RollbackCondition{dbv1.RollbackOnDataCorruption}}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonDataCorruption))
		Expect(dbm.Status.Message).To(ContainSubstring("users"))
		Expect(dbm.Status.Message).NotTo(ContainSubstring("audit"), "the table a data script writes is not compared")
		Expect(dbm.Status.Message).To(ContainSubstring("rolled back"))
		var n int
		Expect(db.QueryRow("SELECT count(*) FROM users").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(50), "the transaction took the lost row back too")
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'age'").Scan(&n)).To(Succeed())
		Expect(n).To(BeZero())
	})

	It("tells Slack of the plan and the outcome, and a dead endpoint neither slows nor fails the migration", func() {
		var mu sync.Mutex
		var received []string
		srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			received = append(received, string(b))
			mu.Unlock()
		}))
		DeferCleanup(srv.Close)
		slack := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "slack-hook"}, StringData: map[string]string{"url": srv.URL + "/services/hook-token"}}
		Expect(k8sClient.Create(ctx, slack)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, slack)
		dead := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "slack-dead"}, StringData: map[string]string{"url": "http://127.0.0.1:1/dead-token"}}
		Expect(k8sClient.Create(ctx, dead)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dead)

		// Told from its first phase on: a notification config added later
		// would miss the AwaitingApproval of a plan computed before it.
		told := fixture.Migration(ns, "told", fixture.WithSQLite(sqlitePath()))
		told.Spec.Notifications = &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "slack-hook"}}
		create(told)
		unheard := fixture.Migration(ns, "unheard", fixture.WithSQLite(sqlitePath()))
		unheard.Spec.Notifications = &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "slack-dead"}}
		create(unheard)

		approvePlan(unheard)
		Eventually(phase(unheard)).Should(Equal(dbv1.PhaseSucceeded))
		Eventually(func() string {
			c := meta.FindStatusCondition(get(unheard).Status.Conditions, dbv1.ConditionNotified)
			if c == nil {
				return ""
			}
			return string(c.Status) + "/" + c.Reason + ": " + c.Message
		}).Should(SatisfyAll(HavePrefix("False/"+dbv1.ReasonDeliveryFailed), ContainSubstring("slack (Succeeded, 3 attempt(s))")))
		Expect(fmt.Sprint(get(unheard).Status)).NotTo(ContainSubstring("dead-token"))

		plan := approvePlan(told)
		Eventually(phase(told)).Should(Equal(dbv1.PhaseSucceeded))
		Eventually(func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), received...) }).Should(ContainElements(
			SatisfyAll(ContainSubstring("default/told AwaitingApproval"), ContainSubstring(plan.Hash)),
			ContainSubstring("default/told Succeeded"),
		))
		Eventually(func() bool { return meta.IsStatusConditionTrue(get(told).Status.Conditions, dbv1.ConditionNotified) }).Should(BeTrue())
		Expect(meta.FindStatusCondition(get(told).Status.Conditions, dbv1.ConditionNotified).Reason).To(Equal(dbv1.ReasonNotified))
	})

	It("changes a MariaDB table through a shadow, keeps the old one as the backup, and checks the copy", func() {
		dbm, db := mariadb("mariadb-shadow",
			fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;\nALTER TABLE users MODIFY email varchar(200);"))
		for i := 4; i <= 600; i++ {
			_, err := db.Exec("INSERT INTO users VALUES (?, ?, NULL)", i, fmt.Sprintf("user %d", i))
			Expect(err).NotTo(HaveOccurred())
		}
		dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyShadowTable
		dbm.Spec.Migration.BatchSize = 100
		dbm.Spec.Validation = &dbv1.ValidationConfig{DataIntegrityChecks: &dbv1.DataIntegrityChecks{Enabled: ptr.To(true), SamplePercentage: 50}}
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true), PreserveBackup: ptr.To(true)}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		dbm = get(dbm)
		Expect(dbm.Status.ShadowTable).NotTo(BeNil())
		Expect(dbm.Status.ShadowTable.SyncStatus).To(Equal("done"))
		Expect(dbm.Status.ShadowTable.RowsProcessed).To(Equal(int64(600)))
		Expect(dbm.Status.BackupInfo).NotTo(BeNil())
		Expect(dbm.Status.BackupInfo.Location).To(HavePrefix("table _users_old"))
		Expect(dbm.Status.Metrics.LongestLock).NotTo(BeNil())
		Expect(mysqlColumns(db, "users")).To(Equal([]string{"id", "name", "email", "age"}))
		Expect(mysqlTables(db)).To(ContainElement("_users_old"))
		var n int
		Expect(db.QueryRow("SELECT count(*) FROM users").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(600))
	})

	It("swaps a PostgreSQL table back from its backup when a later statement fails", func() {
		dbm, db, _ := postgres("shadow-pg",
			"CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)",
			"INSERT INTO users (name) SELECT 'user ' || (g % 400) FROM generate_series(1, 800) g")
		dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyShadowTable
		dbm.Spec.Migration.Scripts = []dbv1.MigrationScript{fixture.InlineScript("widen",
			"ALTER TABLE users ALTER COLUMN id TYPE bigint;\nALTER TABLE users ADD COLUMN age int;\nCREATE UNIQUE INDEX users_name_key ON users (name);")}
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true), PreserveBackup: ptr.To(true)}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Message).To(ContainSubstring("users_name_key"))
		Expect(dbm.Status.Message).To(ContainSubstring("rolled back"))
		var dataType string
		Expect(db.QueryRow("SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'id'").Scan(&dataType)).To(Succeed())
		Expect(dataType).To(Equal("integer"), "the original table is back")
		var n int
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'age'").Scan(&n)).To(Succeed())
		Expect(n).To(BeZero())
		Expect(db.QueryRow("SELECT count(*) FROM users").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(800))
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '\\_users\\_%'").Scan(&n)).To(Succeed())
		Expect(n).To(BeZero(), "no shadow or backup left behind")
	})

	// postgresBlue makes a PostgreSQL database with rows, a Secret with
	// its URL, and a blue-green migration of it.
	postgresBlue := func(name string, scripts ...dbv1.MigrationScript) (*dbv1.DatabaseMigration, string) {
		GinkgoHelper()
		dbm, _, dbURL := postgres(name,
			"CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)",
			"INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 300) g")
		dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyBlueGreen
		dbm.Spec.Migration.Scripts = scripts
		return dbm, dbURL
	}
	withDatabase := func(dbURL, name string) string {
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		u.Path = "/" + name
		return u.String()
	}

	It("migrates a PostgreSQL copy, validates it, switches the applications' Secret to it, and leaves blue as it was", func() {
		dbm, dbURL := postgresBlue("bg-switch",
			fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;"),
			dbv1.MigrationScript{Name: "all-rows", Type: dbv1.ScriptTypeValidation, Source: "inline",
				SQL: "SELECT count(*) = 300 FROM users;", DependsOn: []string{"age"}})
		blueName := dbm.Spec.Database.Database
		app := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-db"}, StringData: map[string]string{"database": blueName, "host": "pg"}}
		Expect(k8sClient.Create(ctx, app)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, app)
		dbm.Spec.Migration.BlueGreen = &dbv1.BlueGreenConfig{SwitchSecret: &dbv1.SwitchSecretRef{Name: "app-db"}}
		create(dbm)
		plan := approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		dbm = get(dbm)
		bg := dbm.Status.BlueGreen
		Expect(bg).NotTo(BeNil())
		Expect(bg.BlueDatabase).To(Equal(blueName))
		Expect(bg.GreenDatabase).To(HavePrefix(blueName + "_green_"))
		Expect(bg.ValidationPassed).To(BeTrue())
		Expect(bg.TrafficSwitched).To(BeTrue())
		Expect(bg.RowsCopied).To(Equal(int64(300)))
		Expect(dbm.Status.LastApplied.PlanHash).To(Equal(plan.Hash))
		Expect(dbm.Status.BackupInfo.Location).To(Equal("database " + blueName))
		DeferCleanup(func() { _ = dbtest.DropPostgresDatabase(dbURL, bg.GreenDatabase) })

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		Expect(string(app.Data["database"])).To(Equal(bg.GreenDatabase))
		Expect(string(app.Data["host"])).To(Equal("pg"), "only the database key moves")

		green := dbtest.OpenPostgres(GinkgoTB(), withDatabase(dbURL, bg.GreenDatabase))
		var n int
		Expect(green.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'age'").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1))
		Expect(green.QueryRow("SELECT count(*) FROM users").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(300))
		blue := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		Expect(blue.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'age'").Scan(&n)).To(Succeed())
		Expect(n).To(BeZero(), "blue is never written")
	})

	It("waits at AwaitingSwitch without a switch Secret until a reviewer approves the switch (MariaDB)", func() {
		dbm, db := mariadb("bg-mariadb", fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;"))
		dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyBlueGreen
		create(dbm)
		plan := approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingSwitch))
		dbm = get(dbm)
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonAwaitingSwitch))
		Eventually(reasons(dbm)).Should(ContainElement(dbv1.ReasonCloning), "the copy was announced")
		Expect(dbm.Status.BlueGreen.ValidationPassed).To(BeTrue())
		Expect(dbm.Status.BlueGreen.TrafficSwitched).To(BeFalse())
		Expect(dbm.Status.Message).To(ContainSubstring(dbv1.AnnotationSwitchApproved + "=" + plan.Hash))
		green := dbm.Status.BlueGreen.GreenDatabase
		DeferCleanup(func() { _, _ = db.Exec("DROP DATABASE IF EXISTS `" + green + "`") })
		var n int
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = 'users' AND column_name = 'age'", green).Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1))
		Expect(mysqlColumns(db, "users")).To(Equal([]string{"id", "name", "email"}), "blue is never written")

		Eventually(func() error {
			get(dbm)
			patch := client.MergeFrom(dbm.DeepCopy())
			fixture.WithAnnotations(map[string]string{dbv1.AnnotationSwitchApproved: plan.Hash, dbv1.AnnotationSwitchApprovedBy: "rita"})(dbm)
			return k8sClient.Patch(ctx, dbm, patch)
		}).Should(Succeed())
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		dbm = get(dbm)
		Expect(dbm.Status.BlueGreen.TrafficSwitched).To(BeTrue())
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonSwitched))
		Expect(dbm.Status.Message).To(ContainSubstring("switched by rita"))
	})

	It("bounds the copy of blue by maxMigrationTime, and lets it finish under a graceful deadline", func() {
		for _, graceful := range []bool{false, true} {
			name := "bg-deadline"
			if graceful {
				name = "bg-deadline-graceful"
			}
			dbm, dbURL := postgresBlue(name, fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;"))
			dbm.Spec.Validation = &dbv1.ValidationConfig{PerformanceThresholds: &dbv1.PerformanceThresholds{
				MaxMigrationTime: &metav1.Duration{Duration: time.Millisecond}}}
			if graceful {
				dbm.Spec.Rollback = &dbv1.RollbackConfig{Strategy: dbv1.RollbackStrategyGraceful}
			}
			create(dbm)
			approvePlan(dbm)
			Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
			dbm = get(dbm)
			blue := dbtest.OpenPostgres(GinkgoTB(), dbURL)
			var greens []string
			rows, err := blue.Query("SELECT datname FROM pg_database WHERE datname LIKE $1", dbm.Spec.Database.Database+"_green_%")
			Expect(err).NotTo(HaveOccurred())
			for rows.Next() {
				var g string
				Expect(rows.Scan(&g)).To(Succeed())
				greens = append(greens, g)
				DeferCleanup(func() { _ = dbtest.DropPostgresDatabase(dbURL, g) })
			}
			Expect(rows.Close()).To(Succeed())
			if graceful {
				// The copy running at the deadline finished, and the apply
				// on green stopped before its first statement.
				Expect(dbm.Status.Message).To(ContainSubstring("stopped gracefully, before the next step"))
			} else {
				Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonDeadlineExceeded), dbm.Status.Message)
				Expect(greens).To(BeEmpty(), "the deadline stopped the copy before green was made")
			}
			var n int
			Expect(blue.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'age'").Scan(&n)).To(Succeed())
			Expect(n).To(BeZero(), "blue is never written")
		}
	})

	It("drops green and leaves blue as it was when green fails its validation, with automatic rollback", func() {
		dbm, dbURL := postgresBlue("bg-invalid",
			fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;"),
			dbv1.MigrationScript{Name: "ages-set", Type: dbv1.ScriptTypeValidation, Source: "inline",
				SQL: "SELECT count(*) = 0 FROM users WHERE age IS NULL;", DependsOn: []string{"age"}})
		dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true)}
		create(dbm)
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonValidationFailed))
		Expect(dbm.Status.Message).To(ContainSubstring(`validation script "ages-set"`))
		Expect(dbm.Status.Message).To(ContainSubstring("was dropped, blue is as it was"))
		Expect(dbm.Status.BlueGreen.TrafficSwitched).To(BeFalse())
		Eventually(reasons(dbm)).Should(ContainElement(dbv1.ReasonRollingBack))
		blue := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		var n int
		Expect(blue.QueryRow("SELECT count(*) FROM pg_database WHERE datname = $1", dbm.Status.BlueGreen.GreenDatabase).Scan(&n)).To(Succeed())
		Expect(n).To(BeZero())
	})

	It("drops green on MariaDB too when green fails its validation, and swaps a MariaDB shadow back when a later statement fails", func() {
		bgm, db := mariadb("bg-mariadb-invalid",
			fixture.InlineScript("age", "ALTER TABLE users ADD COLUMN age int;"),
			dbv1.MigrationScript{Name: "ages-set", Type: dbv1.ScriptTypeValidation, Source: "inline",
				SQL: "SELECT count(*) = 0 FROM users WHERE age IS NULL;", DependsOn: []string{"age"}})
		bgm.Spec.Migration.Strategy = dbv1.MigrationStrategyBlueGreen
		bgm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true)}
		create(bgm)
		approvePlan(bgm)
		Eventually(phase(bgm)).Should(Equal(dbv1.PhaseFailed))
		bgm = get(bgm)
		Expect(bgm.Status.Message).To(ContainSubstring("was dropped, blue is as it was"))
		var n int
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", bgm.Status.BlueGreen.GreenDatabase).Scan(&n)).To(Succeed())
		Expect(n).To(BeZero())
		Expect(mysqlColumns(db, "users")).To(Equal([]string{"id", "name", "email"}))

		sm, sdb := mariadb("shadow-mariadb-rollback", fixture.InlineScript("widen",
			"ALTER TABLE users ADD COLUMN age int;\nCREATE UNIQUE INDEX users_name_key ON users (name);"))
		sm.Spec.Migration.Strategy = dbv1.MigrationStrategyShadowTable
		sm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: ptr.To(true), PreserveBackup: ptr.To(true)}
		create(sm)
		approvePlan(sm)
		Eventually(phase(sm)).Should(Equal(dbv1.PhaseFailed))
		Expect(get(sm).Status.Message).To(ContainSubstring("rolled back"))
		Expect(mysqlColumns(sdb, "users")).To(Equal([]string{"id", "name", "email"}))
		Expect(mysqlTables(sdb)).To(Equal([]string{"kube_shift_revisions", "users"}), "no shadow or backup left")
		Expect(sdb.QueryRow("SELECT count(*) FROM users").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(3))
	})
})
