package sqlstatic

// Dialect names the engine a script is written for, and so how it splits
// and lexes. Its values are the database types' names, the API's and the
// database package's alike, so either converts to a Dialect as it is. A
// Dialect this package does not know is read every way a known one is.
type Dialect string

const (
	DialectPostgreSQL Dialect = "postgresql"
	DialectMySQL      Dialect = "mysql"
	DialectMariaDB    Dialect = "mariadb"
	DialectSQLite     Dialect = "sqlite"
)
