package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kinds a DatabaseMigration's targetRef may name.
const (
	KindDatabaseTarget        = "DatabaseTarget"
	KindClusterDatabaseTarget = "ClusterDatabaseTarget"
)

// TargetKind is the kind of target a migration refers to.
// +kubebuilder:validation:Enum=DatabaseTarget;ClusterDatabaseTarget
type TargetKind string

// TargetRef names the DatabaseTarget (in the migration's namespace) or the
// ClusterDatabaseTarget a migration runs on.
type TargetRef struct {
	// kind is DatabaseTarget (the default) or ClusterDatabaseTarget.
	// +optional
	// +kubebuilder:default=DatabaseTarget
	Kind TargetKind `json:"kind,omitempty"`

	// name is the target's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// TargetSecretRef names the Secret holding a target's credentials. For a
// DatabaseTarget it is in the target's own namespace and namespace must
// be empty; for a ClusterDatabaseTarget it is in the operator's namespace
// unless namespace names another.
type TargetSecretRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace is the Secret's namespace; only for a ClusterDatabaseTarget.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// CASecretRef names the Secret key holding the certificates (PEM) of the
// authorities a target's server certificate must chain to. It is found as
// connectionSecret is: for a DatabaseTarget in the target's own namespace
// (namespace must be empty); for a ClusterDatabaseTarget in the operator's
// namespace unless namespace names another.
type CASecretRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace is the Secret's namespace; only for a ClusterDatabaseTarget.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// key is the Secret's key holding the PEM certificates; `ca.crt`,
	// where cert-manager puts a certificate's CA, when empty.
	// +optional
	// +kubebuilder:default=ca.crt
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// DefaultCAKey is the key of a caSecret that names none.
const DefaultCAKey = "ca.crt"

// TargetPlanning is how plans on a target are computed.
type TargetPlanning struct {
	// devDatabase points to a Secret key (in the same namespace as the
	// connection Secret) holding the URL of an empty dev database on
	// another server than the target's, used instead of the operator's
	// own dev server for this target's plans.
	// +optional
	DevDatabase *SecretKeyRef `json:"devDatabase,omitempty"`
}

// TargetPolicy is the policy every migration on a target inherits. A
// migration may only tighten it: approval required over auto, destructive
// block over allowWithApproval, and reviewers within the target's.
type TargetPolicy struct {
	// approval is `required` or `auto`; empty leaves it to each migration.
	// +optional
	Approval ApprovalMode `json:"approval,omitempty"`

	// destructive is `block` or `allowWithApproval`; empty leaves it to
	// each migration.
	// +optional
	Destructive DestructivePolicy `json:"destructive,omitempty"`

	// reviewers may approve plans on this target; a migration's own
	// reviewers narrow them. Empty leaves it to each migration.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Reviewers []Reviewer `json:"reviewers,omitempty"`
}

// DatabaseTargetSpec is a database the platform team registers: where it
// is, how the operator connects, and the rules for migrations on it.
// +kubebuilder:validation:XValidation:rule="self.type == 'sqlite' || (has(self.host) && size(self.host) > 0)",message="host is required for a database server"
// +kubebuilder:validation:XValidation:rule="!has(self.schema) || self.type == 'postgresql'",message="schema is for postgresql targets; a mysql or mariadb schema is its database"
type DatabaseTargetSpec struct {
	// type is the database engine: postgresql, mysql, mariadb or sqlite.
	// +required
	Type DatabaseType `json:"type"`

	// host is the database server's address. Not used for sqlite.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`

	// port is the database server's port; defaulted per type.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// database is the database (schema, for mysql) migrations change; for
	// sqlite, the path of the file, which must resolve under the manager's
	// --sqlite-root.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Database string `json:"database"`

	// sslMode secures the connection; defaulted to `require`, and to
	// `disable` for sqlite. verify-ca checks that the server's
	// certificate chains to a trusted authority, verify-full that it also
	// names host.
	// +optional
	SSLMode SSLMode `json:"sslMode,omitempty"`

	// schema, for postgresql only, is the schema in the database that
	// migrations on this target change (schema per tenant): inspection,
	// the migration lock and the revision table are scoped to it. Empty:
	// public. It must exist.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_$]*$`
	Schema string `json:"schema,omitempty"`

	// caSecret holds the authorities the server's certificate must chain
	// to under sslMode verify-ca or verify-full (and only then: admission
	// refuses it with another sslMode), in place of the system's. The
	// target's planning.devDatabase is verified with them too.
	// +optional
	CASecret *CASecretRef `json:"caSecret,omitempty"`

	// connectionSecret holds either `username` and `password`, or a full
	// `url`. Not used for sqlite.
	// +optional
	ConnectionSecret *TargetSecretRef `json:"connectionSecret,omitempty"`

	// planning tunes how plans on this target are computed.
	// +optional
	Planning *TargetPlanning `json:"planning,omitempty"`

	// maxConnections bounds the connections the operator opens to this
	// target at once, shared by every migration on it (an apply holds its
	// lock on one while it works on another; a shadow-table copy takes one
	// more, for a second lane, only when the limit leaves one spare beside
	// them, from 5). Zero: 4.
	// +optional
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=1000
	MaxConnections int32 `json:"maxConnections,omitempty"`

	// policy is what every migration on this target inherits.
	// +optional
	Policy *TargetPolicy `json:"policy,omitempty"`
}

// AllowedNamespaces says which namespaces may use a ClusterDatabaseTarget:
// those listed by name, and those whose labels the selector matches.
// Neither: no namespace may.
type AllowedNamespaces struct {
	// names lists namespaces by name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	Names []string `json:"names,omitempty"`

	// selector matches namespaces by their labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ClusterDatabaseTargetSpec is a DatabaseTargetSpec shared with the
// namespaces it admits.
type ClusterDatabaseTargetSpec struct {
	DatabaseTargetSpec `json:",inline"`

	// allowedNamespaces are the namespaces whose migrations may use this
	// target.
	// +required
	AllowedNamespaces AllowedNamespaces `json:"allowedNamespaces"`
}

// DatabaseTargetStatus is what the operator last found of a target.
type DatabaseTargetStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is true when the operator reached the database
	// with the target's credentials at the last check.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// serverVersion is the database server's version at the last check.
	// +optional
	ServerVersion string `json:"serverVersion,omitempty"`

	// missingPrivileges are what a migration needs that the target's user
	// lacks, at the last check (the target is not Ready while any is).
	// +optional
	// +listType=atomic
	MissingPrivileges []string `json:"missingPrivileges,omitempty"`

	// lastChecked is when the connection was last checked.
	// +optional
	LastChecked *metav1.Time `json:"lastChecked,omitempty"`

	// migrations is how many DatabaseMigrations use this target.
	// +optional
	Migrations int32 `json:"migrations,omitempty"`

	// lastAppliedRevision is the highest revision a migration on this
	// target recorded.
	// +optional
	LastAppliedRevision int64 `json:"lastAppliedRevision,omitempty"`
}

// DatabaseTarget is a database the platform team registers for the
// migrations of its namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=dbt,categories=kube-shift
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".spec.type"
// +kubebuilder:printcolumn:name="Host",type="string",JSONPath=".spec.host"
// +kubebuilder:printcolumn:name="Database",type="string",JSONPath=".spec.database"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Migrations",type="integer",JSONPath=".status.migrations"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type DatabaseTarget struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	// +kubebuilder:validation:XValidation:rule="!has(self.connectionSecret) || !has(self.connectionSecret.__namespace__)",message="a DatabaseTarget's connectionSecret is in its own namespace: connectionSecret.namespace is for ClusterDatabaseTargets"
	// +kubebuilder:validation:XValidation:rule="!has(self.caSecret) || !has(self.caSecret.__namespace__)",message="a DatabaseTarget's caSecret is in its own namespace: caSecret.namespace is for ClusterDatabaseTargets"
	Spec DatabaseTargetSpec `json:"spec"`
	// +optional
	Status DatabaseTargetStatus `json:"status,omitempty"`
}

// DatabaseTargetList is a list of DatabaseTargets.
// +kubebuilder:object:root=true
type DatabaseTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DatabaseTarget `json:"items"`
}

// ClusterDatabaseTarget is a database the platform team shares with the
// namespaces it admits.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cdbt,categories=kube-shift
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".spec.type"
// +kubebuilder:printcolumn:name="Host",type="string",JSONPath=".spec.host"
// +kubebuilder:printcolumn:name="Database",type="string",JSONPath=".spec.database"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Migrations",type="integer",JSONPath=".status.migrations"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type ClusterDatabaseTarget struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ClusterDatabaseTargetSpec `json:"spec"`
	// +optional
	Status DatabaseTargetStatus `json:"status,omitempty"`
}

// ClusterDatabaseTargetList is a list of ClusterDatabaseTargets.
// +kubebuilder:object:root=true
type ClusterDatabaseTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterDatabaseTarget `json:"items"`
}

// Connection is the DatabaseConfig a target stands for: what a
// migration with an inline database would say.
func (s *DatabaseTargetSpec) Connection() DatabaseConfig {
	c := DatabaseConfig{Type: s.Type, Host: s.Host, Port: s.Port, Database: s.Database, SSLMode: s.SSLMode}
	if s.ConnectionSecret != nil {
		c.ConnectionSecret = s.ConnectionSecret.Name
	}
	return c
}

// SecretNamespaces are the namespaces of the Secrets of the target id
// with this spec: its connection and dev-database Secrets, and its CA
// Secret. A DatabaseTarget's are in its own namespace; a
// ClusterDatabaseTarget's in operatorNamespace unless its reference names
// another.
func (s *DatabaseTargetSpec) SecretNamespaces(id TargetID, operatorNamespace string) (secrets, ca string) {
	if id.Kind != KindClusterDatabaseTarget {
		return id.Namespace, id.Namespace
	}
	secrets, ca = operatorNamespace, operatorNamespace
	if r := s.ConnectionSecret; r != nil && r.Namespace != "" {
		secrets = r.Namespace
	}
	if r := s.CASecret; r != nil && r.Namespace != "" {
		ca = r.Namespace
	}
	return secrets, ca
}

// Tighten is the policy a migration on a target runs under: the
// migration's own, tightened by the target's. Approval is required if
// either requires it, destructive changes are blocked if either blocks
// them, and the reviewers are the migration's that the target also lists
// (the target's when the migration lists none).
func (p *TargetPolicy) Tighten(own Policy) Policy {
	if p == nil {
		return own
	}
	out := own
	if p.Approval != "" && (own.Approval == "" || p.Approval == ApprovalRequired) {
		out.Approval = p.Approval
	}
	if p.Destructive != "" && (own.Destructive == "" || p.Destructive == DestructiveBlock) {
		out.Destructive = p.Destructive
	}
	switch {
	case len(p.Reviewers) == 0:
	case len(own.Reviewers) == 0:
		out.Reviewers = p.Reviewers
	default:
		out.Reviewers = nil
		for _, r := range own.Reviewers {
			if slices.ContainsFunc(p.Reviewers, func(t Reviewer) bool { return t.Kind == r.Kind && t.Name == r.Name }) {
				out.Reviewers = append(out.Reviewers, r)
			}
		}
		if len(out.Reviewers) == 0 {
			// None in common: nobody may approve rather than anybody.
			out.Reviewers = []Reviewer{{Kind: SubjectUser, Name: NoReviewer}}
		}
	}
	return out
}

// NoReviewer is a reviewer name no user has: a policy whose reviewers the
// target and the migration do not share lets nobody approve.
const NoReviewer = "system:kube-shift:no-reviewer-in-common"

// TargetID tells targets apart: a DatabaseTarget by namespace and name, a
// ClusterDatabaseTarget by name.
type TargetID struct {
	Kind      string
	Namespace string
	Name      string
}

// ID is the target a migration in namespace refers to.
func (r *TargetRef) ID(namespace string) TargetID {
	if r.Kind == KindClusterDatabaseTarget {
		return TargetID{Kind: KindClusterDatabaseTarget, Name: r.Name}
	}
	return TargetID{Kind: KindDatabaseTarget, Namespace: namespace, Name: r.Name}
}

// String names the target in messages: "DatabaseTarget ns/name" or
// "ClusterDatabaseTarget name".
func (id TargetID) String() string {
	if id.Namespace == "" {
		return id.Kind + " " + id.Name
	}
	return id.Kind + " " + id.Namespace + "/" + id.Name
}

// Key is the target's key in indexes and locks: "Kind/namespace/name".
func (id TargetID) Key() string {
	return id.Kind + "/" + id.Namespace + "/" + id.Name
}
