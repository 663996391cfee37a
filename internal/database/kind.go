package database

// Kind names a database engine as a migration's spec does. Its values are
// the API's DatabaseType values, so one converts to the other as it is; the
// controller's tests keep the two lists the same.
type Kind string

const (
	KindPostgreSQL Kind = "postgresql"
	KindMySQL      Kind = "mysql"
	KindMariaDB    Kind = "mariadb"
	KindSQLite     Kind = "sqlite"
)

// DefaultPort is the port a database of this kind listens on unless told
// otherwise; 0 for SQLite, which has no server.
func (k Kind) DefaultPort() int32 {
	switch k {
	case KindPostgreSQL:
		return 5432
	case KindMySQL, KindMariaDB:
		return 3306
	}
	return 0
}

// DefaultSSLMode is the sslMode a database of this kind gets unless told
// otherwise.
func (k Kind) DefaultSSLMode() SSLMode {
	if k == KindSQLite {
		return SSLModeDisable
	}
	return SSLModeRequire
}

// SSLMode is how a connection is secured, in PostgreSQL's vocabulary;
// MySQL and MariaDB map it to their TLS settings. Its values are the API's
// SSLMode values.
type SSLMode string

const (
	SSLModeDisable    SSLMode = "disable"
	SSLModeAllow      SSLMode = "allow"
	SSLModePrefer     SSLMode = "prefer"
	SSLModeRequire    SSLMode = "require"
	SSLModeVerifyCA   SSLMode = "verify-ca"
	SSLModeVerifyFull SSLMode = "verify-full"
)

// Config says which database to reach and how: a migration's database
// block without its Secret, whose data FromConfig takes separately.
type Config struct {
	// Kind is the engine.
	Kind Kind
	// Host is the server's address; not used for SQLite.
	Host string
	// Port is the server's port; zero means the kind's DefaultPort.
	Port int32
	// Database is the database (schema, for MySQL) to migrate; for SQLite,
	// the path of the database file.
	Database string
	// SSLMode secures the connection; empty means the kind's
	// DefaultSSLMode.
	SSLMode SSLMode
	// CA, when set, is the PEM certificates of the authorities the
	// server's certificate must chain to; only with SSLMode verify-ca or
	// verify-full. Nil: the system's.
	CA []byte
	// Schema, for PostgreSQL, is the schema migrated (a tenant's, say):
	// the session's search_path, so inspection, locks and the revision
	// table are its own. Empty: the URL's, or public.
	Schema string
	// SQLiteRoot, when set, is the directory a SQLite database file must
	// resolve under, symlinks followed (see Target.ConfineSQLite); empty
	// confines nothing.
	SQLiteRoot string
}
