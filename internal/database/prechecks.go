package database

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
)

// MigrationPrivileges are what a migration's user needs on its schema: to
// create, change and drop tables and indexes, and to read and write rows.
var MigrationPrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "INDEX"}

// serverVersion runs a version query and returns its one text column.
func serverVersion(ctx context.Context, q Querier, query string) (string, error) {
	return queryText(ctx, q, "the server version", query)
}

// queryText runs query and returns its one text column; what names it
// in an error.
func queryText(ctx context.Context, q Querier, what, query string) (string, error) {
	var v string
	if err := q.QueryRowContext(ctx, query).Scan(&v); err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	return v, nil
}

// ServerID is the cluster's system identifier, which every role may read
// (a physical replica, and a copy made from a base backup, have their
// primary's).
func (e postgresEngine) ServerID(ctx context.Context, q Querier) (string, error) {
	return e.serverID(ctx, querierText(ctx, q))
}

func (postgresEngine) serverID(_ context.Context, query func(string) (string, error)) (string, error) {
	return query("SELECT 'postgres:' || system_identifier::text FROM pg_catalog.pg_control_system()")
}

// ServerID is MySQL's server_uuid, MariaDB's server_uid (each lacks the
// other's), or, before MariaDB 10.3, the server's host name, port and
// data directory.
func (e mysqlEngine) ServerID(ctx context.Context, q Querier) (string, error) {
	return e.serverID(ctx, querierText(ctx, q))
}

func (mysqlEngine) serverID(_ context.Context, query func(string) (string, error)) (string, error) {
	version, err := query("SELECT VERSION()")
	if err != nil {
		return "", err
	}
	if !strings.Contains(version, "MariaDB") {
		return query("SELECT CONCAT('mysql:', @@server_uuid)")
	}
	if id, err := query("SELECT CONCAT('mariadb:', @@server_uid)"); err == nil {
		return id, nil
	}
	return query("SELECT CONCAT('mariadb:', @@hostname, ':', @@port, ':', @@datadir)")
}

// querierText runs a query for one text value through q.
func querierText(ctx context.Context, q Querier) func(string) (string, error) {
	return func(query string) (string, error) { return queryText(ctx, q, "the server's identity", query) }
}

func (sqliteEngine) ServerID(context.Context, Querier) (string, error) { return "", nil }

func (postgresEngine) ServerVersion(ctx context.Context, q Querier) (string, error) {
	return serverVersion(ctx, q, "SELECT 'PostgreSQL ' || current_setting('server_version')")
}

func (mysqlEngine) ServerVersion(ctx context.Context, q Querier) (string, error) {
	return serverVersion(ctx, q, "SELECT CONCAT(IF(VERSION() LIKE '%MariaDB%', 'MariaDB ', 'MySQL '), VERSION())")
}

func (sqliteEngine) ServerVersion(ctx context.Context, q Querier) (string, error) {
	return serverVersion(ctx, q, "SELECT 'SQLite ' || sqlite_version()")
}

// MissingPrivileges reads PostgreSQL's privilege catalogue: a schema change
// needs USAGE and CREATE on the schema; ALTER and DROP of a table belong to
// its owner, so every table of the schema must be owned by a role the user
// is a member of.
func (postgresEngine) MissingPrivileges(ctx context.Context, q Querier, schemaName string) ([]string, error) {
	var missing []string
	for _, priv := range []string{"USAGE", "CREATE"} {
		var ok bool
		if err := q.QueryRowContext(ctx, "SELECT has_schema_privilege(current_user, $1, $2)", schemaName, priv).Scan(&ok); err != nil {
			return nil, fmt.Errorf("reading privileges on schema %s: %w", schemaName, err)
		}
		if !ok {
			missing = append(missing, fmt.Sprintf("%s on schema %s", priv, schemaName))
		}
	}
	foreign, err := QueryStrings(ctx, q, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v') AND c.relname <> $2 AND NOT pg_has_role(current_user, c.relowner, 'USAGE')
		ORDER BY c.relname`, schemaName, RevisionTable)
	if err != nil {
		return nil, fmt.Errorf("reading table owners in schema %s: %w", schemaName, err)
	}
	for _, table := range foreign {
		missing = append(missing, fmt.Sprintf("ownership of %s.%s (ALTER and DROP need it)", schemaName, table))
	}
	return missing, nil
}

// MissingPrivileges reads MySQL's privilege catalogue: the privileges the
// user holds globally (USER_PRIVILEGES) or on the database
// (SCHEMA_PRIVILEGES), as information_schema shows them to the user.
func (mysqlEngine) MissingPrivileges(ctx context.Context, q Querier, schemaName string) ([]string, error) {
	privileges, err := QueryStrings(ctx, q, `SELECT privilege_type FROM information_schema.user_privileges WHERE grantee = CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'", SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'")
		UNION SELECT privilege_type FROM information_schema.schema_privileges WHERE grantee = CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'", SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'") AND ? LIKE REPLACE(table_schema, '\\_', '_')`, schemaName)
	if err != nil {
		return nil, fmt.Errorf("reading privileges on database %s: %w", schemaName, err)
	}
	held := map[string]bool{}
	for _, p := range privileges {
		held[strings.ToUpper(p)] = true
	}
	var missing []string
	for _, p := range MigrationPrivileges {
		if !held[p] {
			missing = append(missing, fmt.Sprintf("%s on database %s", p, schemaName))
		}
	}
	return missing, nil
}

// MissingPrivileges for SQLite: a file has no users; a read-only database
// is the one thing that can stop a migration.
func (sqliteEngine) MissingPrivileges(ctx context.Context, q Querier, _ string) ([]string, error) {
	var readOnly bool
	if err := q.QueryRowContext(ctx, "PRAGMA query_only").Scan(&readOnly); err != nil {
		return nil, fmt.Errorf("reading query_only: %w", err)
	}
	if readOnly {
		return []string{"write access (the database is read-only)"}, nil
	}
	return nil, nil
}

// DiskUsage is what a database uses and, where the engine can tell, the
// room left where it grows.
type DiskUsage struct {
	// Used is the database's size in bytes.
	Used int64
	// Free is the free space in bytes on the filesystem the database grows
	// on; meaningful only when FreeKnown.
	Free      int64
	FreeKnown bool
	// Why says why Free is not known.
	Why string
}

func (postgresEngine) DiskUsage(ctx context.Context, q Querier, _ *url.URL) (DiskUsage, error) {
	var used int64
	if err := q.QueryRowContext(ctx, "SELECT pg_database_size(current_database())").Scan(&used); err != nil {
		return DiskUsage{}, fmt.Errorf("reading the database size: %w", err)
	}
	return DiskUsage{Used: used, Why: "PostgreSQL does not expose the server's free disk space to SQL"}, nil
}

func (mysqlEngine) DiskUsage(ctx context.Context, q Querier, u *url.URL) (DiskUsage, error) {
	var used int64
	err := q.QueryRowContext(ctx, "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = ?",
		strings.TrimPrefix(u.Path, "/")).Scan(&used)
	if err != nil {
		return DiskUsage{}, fmt.Errorf("reading the database size: %w", err)
	}
	return DiskUsage{Used: used, Why: "MySQL and MariaDB do not expose the server's free disk space to SQL"}, nil
}

// DiskUsage of a SQLite file: its pages, and the free space of the
// filesystem holding it, which the operator sees directly.
func (sqliteEngine) DiskUsage(ctx context.Context, q Querier, u *url.URL) (DiskUsage, error) {
	var used int64
	if err := q.QueryRowContext(ctx, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&used); err != nil {
		return DiskUsage{}, fmt.Errorf("reading the database size: %w", err)
	}
	if inMemory(u) {
		return DiskUsage{Used: used, Why: "an in-memory database has no filesystem"}, nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(u.Path), &st); err != nil {
		return DiskUsage{Used: used, Why: "the filesystem holding the file cannot be read: " + err.Error()}, nil
	}
	return DiskUsage{Used: used, Free: int64(st.Bavail) * st.Bsize, FreeKnown: true}, nil
}
