package database

import (
	"context"
	"fmt"
	"strings"

	"ariga.io/atlas/sql/mysql"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
)

// queryViews runs a query returning (name, definition) rows.
func queryViews(ctx context.Context, q Querier, query string, args ...any) ([]View, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("inspecting views: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var views []View
	for rows.Next() {
		var v View
		if err := rows.Scan(&v.Name, &v.Def); err != nil {
			return nil, fmt.Errorf("inspecting views: %w", err)
		}
		v.Def = strings.TrimRight(strings.TrimSpace(v.Def), ";")
		views = append(views, v)
	}
	return views, rows.Err()
}

func (postgresEngine) Views(ctx context.Context, q Querier, schemaName string) ([]View, error) {
	return queryViews(ctx, q, `SELECT viewname, definition FROM pg_catalog.pg_views WHERE schemaname = $1 ORDER BY viewname`, schemaName)
}

func (postgresEngine) EvalHCL(data []byte, realm *schema.Realm) error {
	return postgres.EvalHCLBytes(data, realm, nil)
}

func (e mysqlEngine) Views(ctx context.Context, q Querier, schemaName string) ([]View, error) {
	views, err := queryViews(ctx, q, "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = ? ORDER BY table_name", schemaName)
	// The server qualifies every name with the database; drop it so the
	// definition means the same in a dev database of another name.
	for i := range views {
		views[i].Def = strings.ReplaceAll(views[i].Def, e.Quote(schemaName)+".", "")
	}
	return views, err
}

func (mysqlEngine) EvalHCL(data []byte, realm *schema.Realm) error {
	return mysql.EvalHCLBytes(data, realm, nil)
}

func (sqliteEngine) Views(ctx context.Context, q Querier, _ string) ([]View, error) {
	views, err := queryViews(ctx, q, `SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name`)
	// SQLite keeps the whole CREATE VIEW statement; keep its SELECT.
	for i := range views {
		views[i].Def = selectOf(views[i].Def)
	}
	return views, err
}

// selectOf returns what follows the first AS keyword of a CREATE VIEW.
func selectOf(create string) string {
	upper := strings.ToUpper(create)
	for i := 0; i+4 <= len(upper); i++ {
		if upper[i:i+2] == "AS" && (i == 0 || isSpace(upper[i-1])) && i+2 < len(upper) && isSpace(upper[i+2]) {
			return strings.TrimSpace(create[i+2:])
		}
	}
	return create
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

func (sqliteEngine) EvalHCL(data []byte, realm *schema.Realm) error {
	return sqlite.EvalHCLBytes(data, realm, nil)
}
