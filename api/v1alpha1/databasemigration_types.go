package v1alpha1

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DatabaseType names the database engine a migration targets.
// +kubebuilder:validation:Enum=postgresql;mysql;mariadb;sqlite
type DatabaseType string

const (
	DatabaseTypePostgreSQL DatabaseType = "postgresql"
	DatabaseTypeMySQL      DatabaseType = "mysql"
	DatabaseTypeMariaDB    DatabaseType = "mariadb"
	DatabaseTypeSQLite     DatabaseType = "sqlite"
)

// SSLMode is how the operator secures its connection to the database, in
// PostgreSQL's vocabulary; MySQL and MariaDB map it to their TLS settings.
// +kubebuilder:validation:Enum=disable;allow;prefer;require;verify-ca;verify-full
type SSLMode string

const (
	SSLModeDisable    SSLMode = "disable"
	SSLModeAllow      SSLMode = "allow"
	SSLModePrefer     SSLMode = "prefer"
	SSLModeRequire    SSLMode = "require"
	SSLModeVerifyCA   SSLMode = "verify-ca"
	SSLModeVerifyFull SSLMode = "verify-full"
)

// MigrationStrategy is how an approved plan is run against the database.
// +kubebuilder:validation:Enum=transactional;shadow-table;blue-green;rolling
type MigrationStrategy string

const (
	// MigrationStrategyTransactional runs the whole plan in one transaction
	// where the engine has transactional DDL, with per-statement checkpoints
	// where it has not.
	MigrationStrategyTransactional MigrationStrategy = "transactional"
	MigrationStrategyShadowTable   MigrationStrategy = "shadow-table"
	MigrationStrategyBlueGreen     MigrationStrategy = "blue-green"
	MigrationStrategyRolling       MigrationStrategy = "rolling"
)

// ScriptType says what a script does: change the schema, change rows, or
// check the result after the apply.
// +kubebuilder:validation:Enum=schema;data;validation
type ScriptType string

const (
	ScriptTypeSchema     ScriptType = "schema"
	ScriptTypeData       ScriptType = "data"
	ScriptTypeValidation ScriptType = "validation"
)

// SchemaFormat is the language a desired schema is written in.
// +kubebuilder:validation:Enum=sql;hcl
type SchemaFormat string

const (
	SchemaFormatSQL SchemaFormat = "sql"
	SchemaFormatHCL SchemaFormat = "hcl"
)

// PreCheckType names a check run before any statement is applied.
// +kubebuilder:validation:Enum=connection;permissions;disk-space
type PreCheckType string

const (
	PreCheckConnection  PreCheckType = "connection"
	PreCheckPermissions PreCheckType = "permissions"
	PreCheckDiskSpace   PreCheckType = "disk-space"
)

// RollbackCondition names a failure that triggers an automatic rollback.
// +kubebuilder:validation:Enum=timeout;data-corruption;performance-degradation
type RollbackCondition string

const (
	RollbackOnTimeout                RollbackCondition = "timeout"
	RollbackOnDataCorruption         RollbackCondition = "data-corruption"
	RollbackOnPerformanceDegradation RollbackCondition = "performance-degradation"
)

// RollbackStrategy says whether a rollback stops at once or lets the current
// step finish first.
// +kubebuilder:validation:Enum=immediate;graceful
type RollbackStrategy string

const (
	RollbackStrategyImmediate RollbackStrategy = "immediate"
	RollbackStrategyGraceful  RollbackStrategy = "graceful"
)

// ApprovalMode says who may let a plan run.
// +kubebuilder:validation:Enum=required;auto
type ApprovalMode string

const (
	// ApprovalRequired waits for a reviewer's approved-plan annotation.
	ApprovalRequired ApprovalMode = "required"
	// ApprovalAuto applies a plan with no destructive change and no lint
	// error without a human; any other plan still waits for a reviewer.
	ApprovalAuto ApprovalMode = "auto"
)

// DestructivePolicy says what happens to a plan that drops or loses data.
// +kubebuilder:validation:Enum=block;allowWithApproval
type DestructivePolicy string

const (
	DestructiveBlock             DestructivePolicy = "block"
	DestructiveAllowWithApproval DestructivePolicy = "allowWithApproval"
)

// SubjectKind is the kind of a reviewer: a user or a group.
// +kubebuilder:validation:Enum=User;Group
type SubjectKind string

const (
	SubjectUser  SubjectKind = "User"
	SubjectGroup SubjectKind = "Group"
)

// DiagnosticSeverity grades a lint finding on a plan.
// +kubebuilder:validation:Enum=Error;Warning;Info
type DiagnosticSeverity string

const (
	SeverityError   DiagnosticSeverity = "Error"
	SeverityWarning DiagnosticSeverity = "Warning"
	SeverityInfo    DiagnosticSeverity = "Info"
)

// DatabaseConfig says which database the migration changes and how to reach it.
// +kubebuilder:validation:XValidation:rule="self.type != 'sqlite' || !has(self.connectionSecret)",message="connectionSecret must not be set for sqlite: the database is a file the operator opens directly"
// +kubebuilder:validation:XValidation:rule="self.type == 'sqlite' || (has(self.connectionSecret) && size(self.connectionSecret) > 0)",message="connectionSecret is required for postgresql, mysql and mariadb"
type DatabaseConfig struct {
	// type is the database engine: postgresql, mysql, mariadb or sqlite.
	// +required
	Type DatabaseType `json:"type"`

	// connectionSecret names a Secret in the migration's namespace holding
	// either `username` and `password`, or a full `url`. Not used for sqlite.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ConnectionSecret string `json:"connectionSecret,omitempty"`

	// host is the database server's address. Not used for sqlite. When the
	// connection Secret holds a full `url`, the url must name this host
	// and port, and this database: it gives the credentials and how to
	// connect, not where. Left empty, the url names the server.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`

	// port is the database server's port; defaulted per type (5432 for
	// postgresql, 3306 for mysql and mariadb).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// database is the database (schema, for mysql) to migrate; for sqlite,
	// the path of the database file.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Database string `json:"database"`

	// sslMode secures the connection; defaulted to `require`, and to
	// `disable` for sqlite.
	// +optional
	SSLMode SSLMode `json:"sslMode,omitempty"`
}

// MigrationScript is one SQL script of a versioned migration.
// +kubebuilder:validation:XValidation:rule="self.source != 'inline' || (has(self.sql) && size(self.sql) > 0)",message="an inline source needs its SQL in sql"
// +kubebuilder:validation:XValidation:rule="self.source == 'inline' || !has(self.sql)",message="sql is only for an inline source: configmap:// and secret:// sources carry their own SQL"
type MigrationScript struct {
	// name identifies the script; unique within the migration and used by
	// dependsOn.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`
	Name string `json:"name"`

	// type is schema, data or validation. Validation scripts run after the
	// apply and fail the migration when they return no row or a false first
	// column. They may only read: every statement a query (SELECT, WITH,
	// VALUES, TABLE), run in a read-only session.
	// +required
	Type ScriptType `json:"type"`

	// source is where the SQL comes from: `configmap://<name>/<key>`,
	// `secret://<name>/<key>` (in the migration's namespace), or `inline`
	// with the SQL in sql.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^(inline|(configmap|secret)://[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[-._a-zA-Z0-9]+)$`
	Source string `json:"source"`

	// sql is the script itself when source is `inline`.
	// +optional
	// +kubebuilder:validation:MaxLength=262144
	SQL string `json:"sql,omitempty"`

	// checksum is `sha256:<hex>` of the script's bytes; when set, the script
	// is refused unless it matches.
	// +optional
	// +kubebuilder:validation:Pattern=`^sha256:[0-9a-f]{64}$`
	Checksum string `json:"checksum,omitempty"`

	// dependsOn names scripts that must run before this one. The scripts
	// form a DAG; they run in topological order, ties in list order.
	// +optional
	// +listType=set
	DependsOn []string `json:"dependsOn,omitempty"`

	// timeout bounds this script's run.
	// +optional
	// +kubebuilder:default="10m0s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// DesiredSchema is the full schema the database should have, for declarative
// migrations: the plan is the diff from the live schema to it.
// +kubebuilder:validation:XValidation:rule="self.source != 'inline' || (has(self.sql) && size(self.sql) > 0)",message="an inline source needs its schema in sql"
// +kubebuilder:validation:XValidation:rule="self.source == 'inline' || !has(self.sql)",message="sql is only for an inline source: configmap:// and secret:// sources carry their own schema"
type DesiredSchema struct {
	// source is where the schema comes from: `configmap://<name>/<key>`,
	// `secret://<name>/<key>`, or `inline` with the schema in sql.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^(inline|(configmap|secret)://[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[-._a-zA-Z0-9]+)$`
	Source string `json:"source"`

	// sql is the schema itself when source is `inline` (SQL or Atlas HCL,
	// as format says).
	// +optional
	// +kubebuilder:validation:MaxLength=262144
	SQL string `json:"sql,omitempty"`

	// format is the language of the schema: sql or hcl (Atlas HCL).
	// +optional
	// +kubebuilder:default=sql
	Format SchemaFormat `json:"format,omitempty"`

	// checksum is `sha256:<hex>` of the schema's bytes.
	// +optional
	// +kubebuilder:validation:Pattern=`^sha256:[0-9a-f]{64}$`
	Checksum string `json:"checksum,omitempty"`
}

// MigrationConfig says what to change and how to run it.
// +kubebuilder:validation:XValidation:rule="has(self.desiredSchema) || (has(self.scripts) && size(self.scripts) > 0)",message="either scripts (versioned) or desiredSchema (declarative) is required"
// +kubebuilder:validation:XValidation:rule="!has(self.desiredSchema) || !has(self.scripts) || self.scripts.all(s, s.type == 'validation')",message="with desiredSchema, scripts may only be of type validation"
// +kubebuilder:validation:XValidation:rule="!has(self.exclude) || has(self.desiredSchema)",message="exclude applies to desiredSchema only"
type MigrationConfig struct {
	// strategy is how the approved plan runs. New objects default to
	// transactional.
	// +optional
	// +kubebuilder:default=transactional
	Strategy MigrationStrategy `json:"strategy,omitempty"`

	// scripts are the versioned migration's SQL scripts.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=200
	Scripts []MigrationScript `json:"scripts,omitempty"`

	// desiredSchema switches the migration to declarative mode.
	// +optional
	DesiredSchema *DesiredSchema `json:"desiredSchema,omitempty"`

	// exclude lists glob patterns of schema objects (`table`, `table.column`,
	// `schema.table`) that the declarative diff leaves alone.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	Exclude []string `json:"exclude,omitempty"`

	// parallel lets independent data scripts and table copies run at the
	// same time where the engine allows it.
	// +optional
	Parallel bool `json:"parallel,omitempty"`

	// blueGreen configures the blue-green strategy.
	// +optional
	BlueGreen *BlueGreenConfig `json:"blueGreen,omitempty"`

	// shadowTable configures the shadow-table strategy's copy and swap.
	// +optional
	ShadowTable *ShadowTableConfig `json:"shadowTable,omitempty"`

	// batchSize is the number of rows a data copy moves per batch. A
	// shadow-table copy starts with it and then sizes its batches by
	// shadowTable.batchTime.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	BatchSize int32 `json:"batchSize,omitempty"`
}

// BlueGreenConfig configures the blue-green strategy: green is a copy of
// the database, migrated and validated before anything reads it.
type BlueGreenConfig struct {
	// switchSecret names a Secret in the migration's namespace, and its
	// key (default "database"), that applications read the database name
	// from: the switch rewrites that key to the green database. Without
	// it the switch only records that traffic moved.
	// +optional
	SwitchSecret *SwitchSecretRef `json:"switchSecret,omitempty"`
}

// ShadowTableConfig tunes a shadow-table change as gh-ost's options tune
// its own: how long each copy batch takes, when the copy gives way to the
// application, and how the swap asks for its lock.
type ShadowTableConfig struct {
	// batchTime is how long each copy batch aims to hold what the
	// application waits for (its copy statement and commit): the batch's
	// row count follows the rate the last batch achieved. Rows the
	// application updates in a batch's range wait for it at most about
	// this long; on MySQL and MariaDB every write the triggers mirror
	// does, since the copy holds the shadow's auto-increment lock.
	// Default 10ms.
	// +optional
	BatchTime *metav1.Duration `json:"batchTime,omitempty"`

	// maxLag pauses the copy before a batch while the database is
	// further behind than this: the replication lag the server reports
	// (PostgreSQL's pg_stat_replication) or the time a one-row read of
	// the table takes, whichever is longer. Unset: the copy never
	// pauses.
	// +optional
	MaxLag *metav1.Duration `json:"maxLag,omitempty"`

	// cutOverLockTimeout bounds each wait for the locks the application
	// queues behind (installing the triggers, the swap). An attempt that
	// times out is retried after a pause, so a long query of the
	// application's on the table delays the swap rather than the
	// application. On PostgreSQL it also bounds the time the switch to
	// triggers that write the shadow may spend, under its lock, applying
	// the writes logged since the last replay (at least 10ms): when the
	// application writes faster, the switch gives up and is retried the
	// same way. MySQL and MariaDB count it in whole seconds: under one
	// second the swap does not wait at all. Default 50ms.
	// +optional
	CutOverLockTimeout *metav1.Duration `json:"cutOverLockTimeout,omitempty"`

	// cutOverAttempts is how many times the swap asks for its lock
	// before the migration fails. Default 50 (about a minute and a half
	// with the pauses between attempts).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	CutOverAttempts int32 `json:"cutOverAttempts,omitempty"`
}

// SwitchSecretRef names the Secret, and its key, that applications read
// the database name from.
type SwitchSecretRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key holds the database name.
	// +optional
	// +kubebuilder:default=database
	Key string `json:"key,omitempty"`
}

// SecretKeyRef names one key of a Secret in the migration's namespace.
type SecretKeyRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key is the key inside the Secret.
	// +optional
	// +kubebuilder:default=url
	Key string `json:"key,omitempty"`
}

// PlanningConfig tunes how plans are computed.
type PlanningConfig struct {
	// devDatabase points to a Secret key holding the URL of an empty dev
	// database, on another server than the target's, used to replay and
	// normalise SQL; it is emptied before and after each plan. A dev
	// database the operator finds, once connected, on the target's server
	// (under another name) is refused. Without it the operator creates a
	// scratch database on its own dev server for the engine and drops it
	// after, or uses an in-memory database for sqlite.
	// +optional
	DevDatabase *SecretKeyRef `json:"devDatabase,omitempty"`
}

// Reviewer is a user or group allowed to approve plans.
type Reviewer struct {
	// kind is User or Group.
	// +optional
	// +kubebuilder:default=User
	Kind SubjectKind `json:"kind,omitempty"`

	// name is the user's or group's name as the API server authenticates it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Policy says who approves plans and what a plan may do.
type Policy struct {
	// approval is `required` (a reviewer approves every plan) or `auto`
	// (plans with no destructive change and no lint error apply at once).
	// +optional
	// +kubebuilder:default=required
	Approval ApprovalMode `json:"approval,omitempty"`

	// destructive is `block` (a plan that drops or loses data is never
	// applied) or `allowWithApproval` (it waits for a reviewer).
	// +optional
	// +kubebuilder:default=block
	Destructive DestructivePolicy `json:"destructive,omitempty"`

	// reviewers may approve plans. Empty: anyone RBAC grants the `approve`
	// verb on databasemigrations in the namespace.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Reviewers []Reviewer `json:"reviewers,omitempty"`
}

// PreCheck is a check run before the apply.
type PreCheck struct {
	// type is connection, permissions or disk-space.
	// +required
	Type PreCheckType `json:"type"`

	// threshold is the space the database may use, for disk-space
	// (a quantity such as `50GB` or `50Gi`).
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?([KMGTPE]i?B?|[kmgtpe]b)?$`
	Threshold string `json:"threshold,omitempty"`
}

// DataIntegrityChecks compares rows before and after data scripts and copies.
type DataIntegrityChecks struct {
	// enabled turns the checks on.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// samplePercentage is the share of rows checksummed, 1 to 100.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	SamplePercentage int32 `json:"samplePercentage,omitempty"`

	// checksumValidation compares row checksums, not only row counts.
	// +optional
	// +kubebuilder:default=true
	ChecksumValidation *bool `json:"checksumValidation,omitempty"`
}

// PerformanceThresholds bounds the apply.
type PerformanceThresholds struct {
	// maxMigrationTime is the apply's deadline.
	// +optional
	// +kubebuilder:default="30m0s"
	MaxMigrationTime *metav1.Duration `json:"maxMigrationTime,omitempty"`

	// maxDowntime is the longest a table may stay locked.
	// +optional
	MaxDowntime *metav1.Duration `json:"maxDowntime,omitempty"`

	// maxCpuUsage is the database server's CPU use, in percent, past which
	// the migration counts as degrading performance.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]{1,3}%$`
	MaxCPUUsage string `json:"maxCpuUsage,omitempty"`

	// maxMemoryUsage is the database server's memory use, in percent, past
	// which the migration counts as degrading performance.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]{1,3}%$`
	MaxMemoryUsage string `json:"maxMemoryUsage,omitempty"`
}

// ValidationConfig holds the checks around the apply.
type ValidationConfig struct {
	// preChecks run before any statement is applied.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	PreChecks []PreCheck `json:"preChecks,omitempty"`

	// dataIntegrityChecks compare rows around data scripts and copies.
	// +optional
	DataIntegrityChecks *DataIntegrityChecks `json:"dataIntegrityChecks,omitempty"`

	// performanceThresholds bound the apply.
	// +optional
	PerformanceThresholds *PerformanceThresholds `json:"performanceThresholds,omitempty"`
}

// RollbackConfig says what happens when an apply fails.
type RollbackConfig struct {
	// automatic runs the rollback plan when one of conditions occurs.
	// +optional
	// +kubebuilder:default=true
	Automatic *bool `json:"automatic,omitempty"`

	// conditions trigger an automatic rollback.
	// +optional
	// +listType=set
	Conditions []RollbackCondition `json:"conditions,omitempty"`

	// strategy is immediate (stop at once) or graceful (finish the current
	// step first).
	// +optional
	// +kubebuilder:default=immediate
	Strategy RollbackStrategy `json:"strategy,omitempty"`

	// preserveBackup keeps the pre-migration copy (shadow-table's old table,
	// blue-green's blue database) after success.
	// +optional
	// +kubebuilder:default=true
	PreserveBackup *bool `json:"preserveBackup,omitempty"`
}

// SlackConfig sends notifications to a Slack incoming webhook.
type SlackConfig struct {
	// webhook names a Secret whose `url` key holds the incoming-webhook URL.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Webhook string `json:"webhook"`
}

// EmailConfig sends notifications by e-mail.
type EmailConfig struct {
	// recipients are the addresses notified.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Recipients []string `json:"recipients"`

	// smtpSecret names a Secret with the SMTP settings (`host`, `port`,
	// `username`, `password`, `from`).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SMTPSecret string `json:"smtpSecret,omitempty"`
}

// NotificationConfig says who hears about phase changes.
type NotificationConfig struct {
	// slack notifies a Slack channel.
	// +optional
	Slack *SlackConfig `json:"slack,omitempty"`

	// email notifies by e-mail.
	// +optional
	Email *EmailConfig `json:"email,omitempty"`
}

// DatabaseMigrationSpec is the migration a team declares.
// +kubebuilder:validation:XValidation:rule="has(self.database) != has(self.targetRef)",message="set exactly one of spec.database and spec.targetRef"
// +kubebuilder:validation:XValidation:rule="has(oldSelf.database) == has(self.database) && has(oldSelf.targetRef) == has(self.targetRef)",message="spec.database and spec.targetRef cannot be swapped after creation"
type DatabaseMigrationSpec struct {
	// database is the target, written inline as the original kube-shift
	// manifests do. Exactly one of database and targetRef is set; the
	// manager may refuse an inline database (--require-target-ref). It
	// cannot change after creation.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.database is immutable: create a new DatabaseMigration for another database"
	Database *DatabaseConfig `json:"database,omitempty"`

	// targetRef names the DatabaseTarget or ClusterDatabaseTarget the
	// platform team registered for this namespace. It cannot change after
	// creation.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.targetRef is immutable: create a new DatabaseMigration for another target"
	TargetRef *TargetRef `json:"targetRef,omitempty"`

	// migration is what to change and how.
	// +required
	Migration MigrationConfig `json:"migration"`

	// planning tunes how plans are computed.
	// +optional
	Planning *PlanningConfig `json:"planning,omitempty"`

	// policy says who approves and what a plan may do.
	// +optional
	// +kubebuilder:default={}
	Policy Policy `json:"policy,omitempty"`

	// validation holds the checks around the apply.
	// +optional
	Validation *ValidationConfig `json:"validation,omitempty"`

	// rollback says what happens when the apply fails.
	// +optional
	Rollback *RollbackConfig `json:"rollback,omitempty"`

	// notifications says who hears about phase changes.
	// +optional
	Notifications *NotificationConfig `json:"notifications,omitempty"`
}

// MigrationPhase is where a migration stands in its lifecycle.
// +kubebuilder:validation:Enum=Pending;Planning;AwaitingApproval;Running;Succeeded;Failed;RollingBack;Blocked;AwaitingSwitch
type MigrationPhase string

const (
	PhasePending          MigrationPhase = "Pending"
	PhasePlanning         MigrationPhase = "Planning"
	PhaseAwaitingApproval MigrationPhase = "AwaitingApproval"
	PhaseRunning          MigrationPhase = "Running"
	PhaseSucceeded        MigrationPhase = "Succeeded"
	PhaseFailed           MigrationPhase = "Failed"
	PhaseRollingBack      MigrationPhase = "RollingBack"
	PhaseBlocked          MigrationPhase = "Blocked"
	PhaseAwaitingSwitch   MigrationPhase = "AwaitingSwitch"
)

// Diagnostic is one lint finding on a plan.
type Diagnostic struct {
	// code is the analyzer's code, such as DS103 or BC102.
	// +required
	Code string `json:"code"`

	// severity is Error, Warning or Info.
	// +required
	Severity DiagnosticSeverity `json:"severity"`

	// text explains the finding.
	// +required
	Text string `json:"text"`

	// statement is the index in plan.statements the finding is about.
	// +optional
	Statement *int32 `json:"statement,omitempty"`
}

// PlannedScript records which version of a script a plan was computed from.
type PlannedScript struct {
	// name is the script's name.
	// +required
	Name string `json:"name"`

	// checksum is `sha256:<hex>` of the script's bytes as planned.
	// +required
	Checksum string `json:"checksum"`
}

// PlannedValidation is a validation script as its plan was computed.
type PlannedValidation struct {
	// name is the script's name.
	// +required
	Name string `json:"name"`

	// sql is the script's SQL.
	// +required
	SQL string `json:"sql"`
}

// PlanStatus is the dry-run plan a reviewer approves.
type PlanStatus struct {
	// hash identifies the plan: sha256 over its normalised statements, the
	// target's identity and the live schema's fingerprint.
	// +required
	Hash string `json:"hash"`

	// databaseType is the engine the plan was computed for: the inline
	// database's type, or the target's.
	// +optional
	DatabaseType DatabaseType `json:"databaseType,omitempty"`

	// database is the database (or, for sqlite, the file) the plan was
	// computed against.
	// +optional
	Database string `json:"database,omitempty"`

	// statements are the SQL statements that will run, in order.
	// +optional
	// +listType=atomic
	Statements []string `json:"statements,omitempty"`

	// changes summarise the schema change for a reader.
	// +optional
	// +listType=atomic
	Changes []string `json:"changes,omitempty"`

	// scripts are the scripts the plan was computed from.
	// +optional
	// +listType=atomic
	Scripts []PlannedScript `json:"scripts,omitempty"`

	// diagnostics are the lint findings.
	// +optional
	// +listType=atomic
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`

	// validations are the validation scripts the apply runs after the
	// last statement, in a read-only session, as they were planned (the
	// hash covers them): each must return true, or the apply fails. A
	// secret-sourced script's SQL is not shown. Cut with the statements
	// when the plan is too large for status (truncated).
	// +optional
	// +listType=atomic
	Validations []PlannedValidation `json:"validations,omitempty"`

	// destructive is true when the plan drops or may lose data.
	// +optional
	Destructive bool `json:"destructive,omitempty"`

	// computedAt is when the plan was computed.
	// +optional
	ComputedAt *metav1.Time `json:"computedAt,omitempty"`

	// truncated is true when statements were cut to fit in status; the full
	// plan is in configMapName.
	// +optional
	Truncated bool `json:"truncated,omitempty"`

	// configMapName names the ConfigMap, owned by this object, holding the
	// full plan when it is too large for status.
	// +optional
	ConfigMapName string `json:"configMapName,omitempty"`

	// configMapDigest is "sha256:<hex>" over the exact bytes of the
	// plan.json value the controller wrote to configMapName. Anyone who
	// may write ConfigMaps in the namespace can edit that ConfigMap, but
	// only the controller writes status: a reader trusts the ConfigMap's
	// plan only when it hashes to this digest.
	// +optional
	ConfigMapDigest string `json:"configMapDigest,omitempty"`
}

// RollbackPlan is what takes the schema back to where it was before the apply.
type RollbackPlan struct {
	// statements revert the plan, in order.
	// +optional
	// +listType=atomic
	Statements []string `json:"statements,omitempty"`

	// truncated is true when statements were cut to fit in status.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
}

// AppliedRevision records the last plan applied.
type AppliedRevision struct {
	// planHash is the hash of the plan applied.
	// +required
	PlanHash string `json:"planHash"`

	// appliedAt is when the apply finished.
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`

	// approvedBy is the reviewer who approved it (or `auto`).
	// +optional
	ApprovedBy string `json:"approvedBy,omitempty"`

	// revision is the row id in the database's kube_shift_revisions table.
	// +optional
	Revision int64 `json:"revision,omitempty"`

	// scripts are the scripts applied, with their checksums. They cannot
	// change afterwards: a new change is a new script.
	// +optional
	// +listType=atomic
	Scripts []PlannedScript `json:"scripts,omitempty"`
}

// ProgressInfo tracks an apply step by step.
type ProgressInfo struct {
	// totalSteps is the number of steps in the apply.
	// +optional
	TotalSteps int32 `json:"totalSteps"`

	// completedSteps is the number of steps done.
	// +optional
	CompletedSteps int32 `json:"completedSteps"`

	// currentStep names the step running now.
	// +optional
	CurrentStep string `json:"currentStep,omitempty"`

	// percentageComplete is completedSteps over totalSteps, 0 to 100.
	// +optional
	PercentageComplete int32 `json:"percentageComplete"`
}

// ShadowTableInfo tracks a shadow-table copy.
type ShadowTableInfo struct {
	// name is the shadow table's name.
	// +optional
	Name string `json:"name,omitempty"`

	// syncStatus says where the change stands: creating, copying,
	// throttled, indexing (building the indexes left out of the copy),
	// replaying (PostgreSQL: applying the writes logged during the copy),
	// verifying, swapping, done.
	// +optional
	SyncStatus string `json:"syncStatus,omitempty"`

	// rowsProcessed is the number of rows copied.
	// +optional
	RowsProcessed int64 `json:"rowsProcessed"`

	// totalRows is the number of rows to copy.
	// +optional
	TotalRows int64 `json:"totalRows"`

	// lastSyncTime is when the copy last moved.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// batchSize is the number of rows the copy's next batch moves, as
	// sized by spec.migration.shadowTable.batchTime.
	// +optional
	BatchSize int64 `json:"batchSize,omitempty"`

	// throttledTime is how long the copy has paused for
	// spec.migration.shadowTable.maxLag.
	// +optional
	ThrottledTime *metav1.Duration `json:"throttledTime,omitempty"`

	// throttleReason says why the copy is paused, while syncStatus is
	// throttled.
	// +optional
	ThrottleReason string `json:"throttleReason,omitempty"`

	// cutOverAttempts is how many attempts at the swap's lock were made:
	// more than one when the application held the table.
	// +optional
	CutOverAttempts int32 `json:"cutOverAttempts,omitempty"`

	// longestLock is the longest time the application's statements on
	// the table could have queued behind one of the change's locks
	// (installing the triggers, the swap, a failed attempt's wait).
	// +optional
	LongestLock *metav1.Duration `json:"longestLock,omitempty"`
}

// MigrationMetrics holds what was measured during the apply.
type MigrationMetrics struct {
	// duration is how long the apply took.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// cpuUsage is the database server's CPU use, where it reports one.
	// +optional
	CPUUsage string `json:"cpuUsage,omitempty"`

	// memoryUsage is the database server's memory use, where it reports one.
	// +optional
	MemoryUsage string `json:"memoryUsage,omitempty"`

	// diskUsage is the database's size.
	// +optional
	DiskUsage string `json:"diskUsage,omitempty"`

	// queriesPerSecond is the statement rate during the apply.
	// +optional
	QueriesPerSecond string `json:"queriesPerSecond,omitempty"`

	// longestLock is the longest time the apply held locks that stop the
	// application's writes: the transaction, a statement without one, or
	// a rolling step. It is what performanceThresholds.maxDowntime bounds.
	// +optional
	LongestLock *metav1.Duration `json:"longestLock,omitempty"`
}

// BlueGreenStatus tracks a blue-green migration.
type BlueGreenStatus struct {
	// phase is Cloning, Applying, AwaitingSwitch, Switched or Failed.
	// +optional
	Phase string `json:"phase,omitempty"`

	// blueDatabase is the database applications use before the switch.
	// +optional
	BlueDatabase string `json:"blueDatabase,omitempty"`

	// greenDatabase is the migrated copy.
	// +optional
	GreenDatabase string `json:"greenDatabase,omitempty"`

	// rowsCopied is how many rows the copy moved.
	// +optional
	RowsCopied int64 `json:"rowsCopied,omitempty"`

	// greenRevision is the plan's row in green's revision table.
	// +optional
	GreenRevision int64 `json:"greenRevision,omitempty"`

	// validationPassed is true once the validation scripts passed on green.
	ValidationPassed bool `json:"validationPassed"`

	// trafficSwitched is true once the switch happened.
	TrafficSwitched bool `json:"trafficSwitched"`

	// switchedAt is when.
	// +optional
	SwitchedAt *metav1.Time `json:"switchedAt,omitempty"`
}

// RollingPhase is where a rolling apply stands.
// +kubebuilder:validation:Enum=Running;Completed;Failed;RolledBack
type RollingPhase string

const (
	RollingRunning    RollingPhase = "Running"
	RollingCompleted  RollingPhase = "Completed"
	RollingFailed     RollingPhase = "Failed"
	RollingRolledBack RollingPhase = "RolledBack"
)

// RollingStatus tracks a rolling apply, one step per script.
type RollingStatus struct {
	// phase is where the rolling apply stands.
	// +optional
	Phase RollingPhase `json:"phase,omitempty"`

	// totalSteps is the number of steps (scripts with statements).
	TotalSteps int32 `json:"totalSteps"`

	// currentStep is the 1-based step running, or the last one run.
	CurrentStep int32 `json:"currentStep"`

	// currentScript names the current step's script.
	// +optional
	CurrentScript string `json:"currentScript,omitempty"`

	// failedSteps names the steps that failed.
	// +optional
	// +listType=atomic
	FailedSteps []string `json:"failedSteps,omitempty"`

	// rollbackPoint is the number of steps committed: an apply cut short
	// resumes after it; a rollback goes back from it.
	RollbackPoint int32 `json:"rollbackPoint"`

	// resumedSteps is the number of steps an earlier, interrupted apply
	// committed and this one did not run again.
	// +optional
	ResumedSteps int32 `json:"resumedSteps,omitempty"`
}

// BackupInfo says where the pre-migration copy is kept.
type BackupInfo struct {
	// location names the backup (a table or a database).
	// +optional
	Location string `json:"location,omitempty"`

	// size is the backup's size.
	// +optional
	Size string `json:"size,omitempty"`

	// createdAt is when the backup was made.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
}

// PreCheckOutcome is how a pre-check came out.
// +kubebuilder:validation:Enum=Passed;Failed;Unknown
type PreCheckOutcome string

const (
	PreCheckPassed PreCheckOutcome = "Passed"
	PreCheckFailed PreCheckOutcome = "Failed"
	// PreCheckUnknown: the engine cannot tell (free disk space on a
	// server that does not expose it, say). Never counted as a pass.
	PreCheckUnknown PreCheckOutcome = "Unknown"
)

// PreCheckResult is the outcome of one pre-check.
type PreCheckResult struct {
	// type is the check.
	// +required
	Type PreCheckType `json:"type"`

	// outcome is Passed, Failed or Unknown.
	// +required
	Outcome PreCheckOutcome `json:"outcome"`

	// message says what was measured (the server version, the privileges
	// missing, the database's size against the threshold).
	// +optional
	Message string `json:"message,omitempty"`
}

// DatabaseMigrationStatus is what the controller observed and did.
type DatabaseMigrationStatus struct {
	// phase is where the migration stands.
	// +optional
	Phase MigrationPhase `json:"phase,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Planned, Approved, Applied and Ready, plus kstatus's
	// Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// message says, for a person, what is happening.
	// +optional
	Message string `json:"message,omitempty"`

	// reason is a CamelCase word for why the phase is what it is.
	// +optional
	Reason string `json:"reason,omitempty"`

	// startTime is when the current apply began.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the last apply ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// plan is the current dry-run plan.
	// +optional
	Plan *PlanStatus `json:"plan,omitempty"`

	// rollbackPlan takes the schema back to before the plan.
	// +optional
	RollbackPlan *RollbackPlan `json:"rollbackPlan,omitempty"`

	// lastApplied is the last plan applied.
	// +optional
	LastApplied *AppliedRevision `json:"lastApplied,omitempty"`

	// progress tracks the apply.
	// +optional
	Progress *ProgressInfo `json:"progress,omitempty"`

	// preChecks are the outcomes of spec.validation.preChecks at the last
	// apply.
	// +optional
	// +listType=map
	// +listMapKey=type
	PreChecks []PreCheckResult `json:"preChecks,omitempty"`

	// blueGreen tracks a blue-green migration.
	// +optional
	BlueGreen *BlueGreenStatus `json:"blueGreen,omitempty"`

	// rolling tracks a rolling apply.
	// +optional
	Rolling *RollingStatus `json:"rolling,omitempty"`

	// shadowTable tracks a shadow-table copy.
	// +optional
	ShadowTable *ShadowTableInfo `json:"shadowTable,omitempty"`

	// metrics holds what was measured during the apply.
	// +optional
	Metrics *MigrationMetrics `json:"metrics,omitempty"`

	// backupInfo says where the pre-migration copy is kept.
	// +optional
	BackupInfo *BackupInfo `json:"backupInfo,omitempty"`
}

// DatabaseMigration is a schema migration of one database, planned by the
// operator, approved by a reviewer, then applied.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=dbm,categories=kube-shift
// +kubebuilder:printcolumn:name="Phase",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".status.plan.databaseType"
// +kubebuilder:printcolumn:name="Target",type="string",JSONPath=".spec.targetRef.name"
// +kubebuilder:printcolumn:name="Strategy",type="string",JSONPath=".spec.migration.strategy"
// +kubebuilder:printcolumn:name="Plan",type="string",JSONPath=".status.plan.hash"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type DatabaseMigration struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the migration to run.
	// +required
	Spec DatabaseMigrationSpec `json:"spec"`

	// status is what the controller observed.
	// +optional
	Status DatabaseMigrationStatus `json:"status,omitempty"`
}

// DatabaseKey identifies the database the migration changes, so that two
// migrations of one database are known to share it (and its apply lock)
// whatever their namespace: its target's key, the SQLite file, the
// server's address and database, or, when the address is in the
// connection Secret's url, that Secret.
func (m *DatabaseMigration) DatabaseKey() string {
	db := m.Spec.Database
	switch {
	case db == nil && m.Spec.TargetRef != nil:
		return "target:" + m.Spec.TargetRef.ID(m.Namespace).Key()
	case db == nil:
		return "target:"
	case db.Type == DatabaseTypeSQLite:
		return "sqlite:" + db.Database
	case db.Host == "":
		return fmt.Sprintf("%s:secret:%s/%s", db.Type, m.Namespace, db.ConnectionSecret)
	}
	return fmt.Sprintf("%s:%s:%d/%s", db.Type, strings.ToLower(db.Host), db.Port, db.Database)
}

// DatabaseMigrationList is a list of DatabaseMigrations.
//
// +kubebuilder:object:root=true
type DatabaseMigrationList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DatabaseMigration `json:"items"`
}
