package database

import (
	"database/sql"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// confinedDriver is the database/sql driver name of SQLite connections that
// can reach no file: every in-memory database, which is what planning
// replays scripts on. Replay is code execution before any review; a
// statement such as ATTACH DATABASE '/other.db' would otherwise reach any
// file the manager can write.
const confinedDriver = "kube-shift-sqlite-confined"

func init() {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, _ string) error {
		a, ok := conn.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("the SQLite driver cannot install an authorizer: refusing to open an unconfined dev database")
		}
		return a.RegisterAuthorizer(confine)
	})
	sql.Register(confinedDriver, d)
}

// confinedPragmas are the pragmas a confined connection may run: the ones
// kube-shift and Atlas's SQLite driver use to inspect and to run a plan,
// none of which names a file or changes anything beyond the connection's
// own database.
var confinedPragmas = map[string]bool{
	"busy_timeout":       true,
	"foreign_keys":       true,
	"foreign_key_check":  true,
	"foreign_key_list":   true,
	"defer_foreign_keys": true,
	"legacy_alter_table": true,
	"database_list":      true,
	"table_list":         true,
	"table_info":         true,
	"table_xinfo":        true,
	"index_list":         true,
	"index_info":         true,
	"index_xinfo":        true,
	"query_only":         true,
	"page_count":         true,
	"page_size":          true,
	"writable_schema":    true,
}

// confinedFunctions are SQL functions a confined connection may not call:
// they load code or reach files.
var confinedFunctions = map[string]bool{
	"load_extension": true,
	"readfile":       true,
	"writefile":      true,
	"edit":           true,
	"fts3_tokenizer": true,
}

// confine is the authorizer of a confined connection: no ATTACH (which
// VACUUM INTO uses too), no DETACH, only the pragmas above, none of the
// functions above, and nothing outside the main and temp databases.
func confine(action sqlite.AuthorizerActionCode, arg1, arg2, dbName, _ string) sqlite.AuthorizerReturnCode {
	switch action {
	case sqlite.AuthAttach, sqlite.AuthDetach:
		return sqlite.AuthorizerDeny
	case sqlite.AuthPragma:
		if !confinedPragmas[strings.ToLower(arg1)] {
			return sqlite.AuthorizerDeny
		}
	case sqlite.AuthFunction:
		if confinedFunctions[strings.ToLower(arg2)] {
			return sqlite.AuthorizerDeny
		}
	case sqlite.AuthAlterTable:
		// ALTER TABLE passes the database as its first argument (and a
		// dropped column where the others pass the database).
		dbName = arg1
	}
	if dbName != "" && dbName != "main" && dbName != "temp" {
		return sqlite.AuthorizerDeny
	}
	return sqlite.AuthorizerOK
}
