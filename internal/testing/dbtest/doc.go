// Package dbtest gives Go tests real PostgreSQL and MySQL/MariaDB databases.
//
// The servers come from hack/db-up.sh, which writes their URLs to bin/db/env:
//
//	hack/db-up.sh && source bin/db/env
//	go test ./...
//
// PostgresURL and MySQLURL return those URLs (KUBE_SHIFT_TEST_POSTGRES_URL,
// KUBE_SHIFT_TEST_MYSQL_URL). When one is unset the test is skipped, except
// under CI=true, where it fails: CI must not pass by silently running none of
// the database tests. PostgresCA and MySQLCA return the CA that signed the
// servers' TLS certificates (KUBE_SHIFT_TEST_POSTGRES_CA,
// KUBE_SHIFT_TEST_MYSQL_CA), under the same rule; UntrustedCA makes one
// they do not know.
//
// NewPostgresDatabase and NewMySQLDatabase create a fresh, uniquely named
// database on that server, drop it when the test ends, and return its URL, so
// tests do not see each other's tables and may run in parallel.
//
// The MySQL URLs are in Atlas form, mysql://user:pass@host:port/db; MySQLDSN
// turns one into a go-sql-driver/mysql DSN. OpenPostgres and OpenMySQL open a
// *sql.DB for a URL and close it when the test ends.
package dbtest
