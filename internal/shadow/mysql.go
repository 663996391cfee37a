package shadow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	atlasmysql "ariga.io/atlas/sql/mysql"
	"github.com/go-sql-driver/mysql"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func init() {
	dialects[atlasmysql.DriverName] = func(e database.Engine) dialect { return mysqlDialect{e} }
}

// mysqlDialect runs shadow-table changes on MySQL and MariaDB: three
// triggers, which log keys until the switch (see logsWrites) or, as
// pt-online-schema-change's, write the shadow, and one RENAME TABLE that
// exchanges both tables atomically. DDL is not transactional here, so what
// follows the rename (dropping the triggers, marking the backup) is done
// after it, outside the lock.
type mysqlDialect struct {
	database.Catalog
}

// MySQL error numbers the copy and the swap retry on.
const (
	mysqlLockWaitTimeout = 1205
	mysqlDeadlock        = 1213
	mysqlDuplicateKey    = 1062
	// mysqlLockNowait: MySQL 8's NOWAIT finding a row locked (MariaDB
	// reports mysqlLockWaitTimeout).
	mysqlLockNowait = 3572
	// mysqlDropIndexFK: the index is needed in a foreign key constraint.
	mysqlDropIndexFK = 1553
)

// prepareSession makes the session strict, so that a value the new
// definition cannot hold fails the copy (and, since triggers keep the
// SQL mode they were created under, the mirrored write) instead of being
// silently truncated; takes backslash escapes on, which mysqlLiteral
// relies on; and bounds metadata and row lock waits.
func (mysqlDialect) prepareSession(ctx context.Context, conn *sql.Conn, lockTimeout time.Duration) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
		return err
	}
	var modes []string
	for m := range strings.SplitSeq(mode, ",") {
		if m != "" && m != "NO_BACKSLASH_ESCAPES" {
			modes = append(modes, m)
		}
	}
	if !slices.Contains(modes, "STRICT_ALL_TABLES") {
		modes = append(modes, "STRICT_ALL_TABLES")
	}
	secs := mysqlWaitSeconds(lockTimeout)
	_, err := conn.ExecContext(ctx, "SET SESSION sql_mode = "+mysqlLiteral(strings.Join(modes, ","))+
		", SESSION lock_wait_timeout = "+secs+", SESSION innodb_lock_wait_timeout = "+secs)
	return err
}

// mysqlWaitSeconds is lockTimeout in whole seconds, rounded, at least one:
// the session's own waits always wait.
func mysqlWaitSeconds(lockTimeout time.Duration) string {
	return strconv.Itoa(max(int(lockTimeout.Round(time.Second).Seconds()), 1))
}

func (mysqlDialect) restoreLockWait(ctx context.Context, q database.Querier, lockTimeout time.Duration) error {
	_, err := q.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+mysqlWaitSeconds(lockTimeout))
	return err
}

// setLockWait sets lock_wait_timeout, which bounds metadata lock waits
// (LOCK TABLES, RENAME, ALTER) in whole seconds: a wait under a second
// becomes 0, which fails at once when the lock is taken, as NOWAIT does.
func (mysqlDialect) setLockWait(ctx context.Context, q database.Querier, wait time.Duration) error {
	_, err := q.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(int(wait/time.Second)))
	return err
}

// mysqlLiteral quotes s as a string literal for a session without
// NO_BACKSLASH_ESCAPES (prepareSession sees to it).
func mysqlLiteral(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`, "\x00", `\0`).Replace(s) + "'"
}

func (mysqlDialect) relation(ctx context.Context, q database.Querier, schema, name string) (*tableInfo, error) {
	info := &tableInfo{}
	err := q.QueryRowContext(ctx, `
		SELECT TABLE_TYPE = 'BASE TABLE', TABLE_COMMENT FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, name).Scan(&info.isTable, &info.comment)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return info, err
}

// referencedBy lists the foreign keys pointing at the table: InnoDB makes
// them follow a renamed table, so after the swap they would point at the
// backup.
func (mysqlDialect) referencedBy(ctx context.Context, q database.Querier, n names) ([]string, error) {
	return database.QueryStrings(ctx, q, `
		SELECT DISTINCT CONCAT('constraint ', CONSTRAINT_NAME, ' on ', TABLE_SCHEMA, '.', TABLE_NAME)
		FROM information_schema.KEY_COLUMN_USAGE
		WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?
		ORDER BY 1`, n.schema, n.table)
}

// obstacles: a storage engine without transactions and row locks (the
// copy's locking reads and the triggers' atomicity rely on them), and
// triggers of the application's, which the rename would take to the
// backup.
func (d mysqlDialect) obstacles(ctx context.Context, q database.Querier, n names) ([]string, error) {
	var out []string
	var engine sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
		n.schema, n.table).Scan(&engine); err != nil {
		return nil, err
	}
	if !strings.EqualFold(engine.String, "InnoDB") {
		out = append(out, fmt.Sprintf("storage engine %s is not transactional (InnoDB is required)", engine.String))
	}
	triggers, err := d.triggers(ctx, q, n)
	if err != nil {
		return nil, err
	}
	for _, t := range triggers {
		if t.table == n.table && !d.ours(t, n) {
			out = append(out, "trigger "+t.name)
		}
	}
	return out, nil
}

func (d mysqlDialect) foreignNames(ctx context.Context, q database.Querier, n names) ([]string, error) {
	triggers, err := d.triggers(ctx, q, n)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range triggers {
		if slices.Contains(syncTriggers(n), t.name) && !d.ours(t, n) {
			out = append(out, fmt.Sprintf("trigger %s on %s", t.name, t.table))
		}
	}
	for _, t := range d.logTables(n) {
		info, err := d.relation(ctx, q, n.schema, t.name)
		if err != nil {
			return nil, err
		}
		if info != nil && !t.ours(info) {
			out = append(out, t.name+" is not a log table of kube-shift's")
		}
	}
	return out, nil
}

// logTables: the log and the replay's list of keys.
func (mysqlDialect) logTables(n names) []logTableName {
	return []logTableName{{logTable(n), logMarker(n)}, {replayTable(n), replayMarker(n)}}
}

// trigger is a trigger of the schema.
type trigger struct {
	name, table, body string
}

// triggers lists the triggers on the table and those with the names Run
// gives its own (trigger names are schema-wide in MySQL).
func (mysqlDialect) triggers(ctx context.Context, q database.Querier, n names) ([]trigger, error) {
	mine := syncTriggers(n)
	rows, err := q.QueryContext(ctx, `
		SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = ? AND (EVENT_OBJECT_TABLE = ? OR TRIGGER_NAME IN (?, ?, ?))
		ORDER BY TRIGGER_NAME`, n.schema, n.table, mine[0], mine[1], mine[2])
	if err != nil {
		return nil, fmt.Errorf("reading the triggers of %s: %w", n.table, err)
	}
	defer func() { _ = rows.Close() }()
	var out []trigger
	for rows.Next() {
		var t trigger
		if err := rows.Scan(&t.name, &t.table, &t.body); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ours reports whether t is a trigger of n's: one of Run's names, on the
// table or (after a swap) its backup, writing into the shadow or the log.
func (d mysqlDialect) ours(t trigger, n names) bool {
	return slices.Contains(syncTriggers(n), t.name) &&
		(t.table == n.table || t.table == n.backup) &&
		(strings.Contains(t.body, d.Qualify(n.schema, n.shadow)) || strings.Contains(t.body, d.Qualify(n.schema, logTable(n))))
}

// syncTriggers names the DELETE, UPDATE and INSERT triggers, in the order
// they are created: those that log keys until the switch, then those
// that write the shadow, which replace them under the same names.
func syncTriggers(n names) []string {
	return []string{
		decorate(n.table, "_del", n.limit),
		decorate(n.table, "_upd", n.limit),
		decorate(n.table, "_ins", n.limit),
	}
}

func (d mysqlDialect) setComment(ctx context.Context, q database.Querier, schema, name, comment string) error {
	_, err := q.ExecContext(ctx, "ALTER TABLE "+d.Qualify(schema, name)+" COMMENT = "+mysqlLiteral(comment))
	return err
}

// inheritTablespace has nothing to do: the shadow is created LIKE the
// live table, in its tablespace.
func (mysqlDialect) inheritTablespace(context.Context, database.Querier, names) error { return nil }

// inheritAccess has nothing to do: MySQL keys privileges by table name, so
// the renamed shadow has the old table's.
func (mysqlDialect) inheritAccess(context.Context, database.Querier, names) error { return nil }

// foreignKeyCopies re-create the live table's foreign keys on the
// shadow, in one ALTER TABLE: all or none, so that an attempt that timed
// out waiting for a referenced table may be made again. Constraint names
// are schema-wide, so each copy gets a leading underscore added, or
// removed if it has one, as pt-online-schema-change does: the names
// alternate from one change to the next.
func (d mysqlDialect) foreignKeyCopies(ctx context.Context, q database.Querier, n names) ([]string, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT rc.CONSTRAINT_NAME, rc.UPDATE_RULE, rc.DELETE_RULE,
			k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
		FROM information_schema.REFERENTIAL_CONSTRAINTS rc
		JOIN information_schema.KEY_COLUMN_USAGE k
			ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME
			AND k.TABLE_NAME = rc.TABLE_NAME
		WHERE rc.CONSTRAINT_SCHEMA = ? AND rc.TABLE_NAME = ?
		ORDER BY rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`, n.schema, n.table)
	if err != nil {
		return nil, fmt.Errorf("reading the foreign keys of %s: %w", n.table, err)
	}
	var fks []*foreignKey
	for rows.Next() {
		var name, onUpdate, onDelete, col, refSchema, refTable, refCol string
		if err := rows.Scan(&name, &onUpdate, &onDelete, &col, &refSchema, &refTable, &refCol); err != nil {
			_ = rows.Close()
			return nil, err
		}
		if len(fks) == 0 || fks[len(fks)-1].name != name {
			fks = append(fks, &foreignKey{name: name, onUpdate: onUpdate, onDelete: onDelete, ref: d.Qualify(refSchema, refTable)})
		}
		fk := fks[len(fks)-1]
		fk.columns = append(fk.columns, col)
		fk.refColumns = append(fk.refColumns, refCol)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(fks) == 0 {
		return nil, nil
	}
	adds := make([]string, len(fks))
	for i, fk := range fks {
		adds[i] = "ADD CONSTRAINT " + d.Quote(toggleUnderscore(fk.name, n.limit)) +
			" FOREIGN KEY (" + quoteList(d.Quote, fk.columns) + ") REFERENCES " + fk.ref +
			" (" + quoteList(d.Quote, fk.refColumns) + ") ON DELETE " + fk.onDelete + " ON UPDATE " + fk.onUpdate
	}
	return []string{"ALTER TABLE " + d.Qualify(n.schema, n.shadow) + " " + strings.Join(adds, ", ")}, nil
}

// foreignKey is a foreign key read from information_schema.
type foreignKey struct {
	name, onUpdate, onDelete string
	columns, refColumns      []string
	ref                      string
}

// toggleUnderscore is the name of a constraint's copy, within limit bytes.
func toggleUnderscore(name string, limit int) string {
	if trimmed, ok := strings.CutPrefix(name, "_"); ok && trimmed != "" {
		return trimmed
	}
	return decorate(name, "", limit)
}

// installTriggers creates the three triggers while holding WRITE locks on
// the live table and the table they write, so that every other session
// sees all of them or none. The lock matters beyond atomicity: MariaDB
// 10.11 fails server-side prepared statements that run while CREATE
// TRIGGER adds a table to their prelocking set ("Table '..._new' doesn't
// exist"); measured: 29 of 30 loaded runs without the lock, none with it.
// Every trigger writes in the application's transaction, so its writes
// commit or roll back with it. Logged, the triggers write the keys to
// the log, created first (an earlier attempt's is kept: preflight refused
// the name were it anyone else's), and nothing the application runs
// touches the shadow until the switch.
func (d mysqlDialect) installTriggers(ctx context.Context, conn *sql.Conn, n names, pk, columns []string, logged bool, locking func()) error {
	live, target := d.Qualify(n.schema, n.table), d.Qualify(n.schema, n.shadow)
	create := d.createSyncTriggers(n, pk, columns)
	if logged {
		if err := d.createLog(ctx, conn, n, pk); err != nil {
			return fmt.Errorf("creating the log %s: %w", logTable(n), err)
		}
		target, create = d.Qualify(n.schema, logTable(n)), d.createLogTriggers(n, pk)
	}
	// An earlier attempt may have created some before failing (the names
	// are the run's: preflight refused them were they anyone else's); read
	// before the lock, so that it holds no more statements than it must.
	triggers, err := d.triggers(ctx, conn, n)
	if err != nil {
		return err
	}
	var drop []string
	for _, t := range triggers {
		if t.table == n.table && d.ours(t, n) {
			drop = append(drop, t.name)
		}
	}
	locking()
	return underLock(ctx, conn, []string{live, target}, append(d.dropIfExists(n, drop), create...))
}

// dropIfExists drops the triggers of these names.
func (d mysqlDialect) dropIfExists(n names, triggers []string) []string {
	stmts := make([]string, len(triggers))
	for i, name := range triggers {
		stmts[i] = "DROP TRIGGER IF EXISTS " + d.Qualify(n.schema, name)
	}
	return stmts
}

// createSyncTriggers creates the triggers that write the shadow: a delete
// removes the row, an insert or update replaces it (an update of the key
// first removes the row under its old key).
func (d mysqlDialect) createSyncTriggers(n names, pk, columns []string) []string {
	live, shadow, names := d.Qualify(n.schema, n.table), d.Qualify(n.schema, n.shadow), syncTriggers(n)
	replace := "REPLACE INTO " + shadow + " (" + quoteList(d.Quote, columns) + ") VALUES (" + d.refs("NEW", columns) + ")"
	deleteOld := "DELETE FROM " + shadow + " WHERE " + d.keyMatches(pk, "OLD")
	return []string{
		"CREATE TRIGGER " + d.Qualify(n.schema, names[0]) + " AFTER DELETE ON " + live + " FOR EACH ROW " + deleteOld,
		"CREATE TRIGGER " + d.Qualify(n.schema, names[1]) + " AFTER UPDATE ON " + live + " FOR EACH ROW BEGIN " +
			"IF NOT (" + d.sameKey(pk) + ") THEN " + deleteOld + "; END IF; " + replace + "; END",
		"CREATE TRIGGER " + d.Qualify(n.schema, names[2]) + " AFTER INSERT ON " + live + " FOR EACH ROW " + replace,
	}
}

// createLogTriggers creates the triggers that log the keys written: the
// old key of a delete or update, the new key of an insert, and of an
// update that changes the key.
func (d mysqlDialect) createLogTriggers(n names, pk []string) []string {
	live, names := d.Qualify(n.schema, n.table), syncTriggers(n)
	into := "INSERT INTO " + d.Qualify(n.schema, logTable(n)) + " (" + quoteList(d.Quote, pk) + ") VALUES "
	logOld, logNew := into+"("+d.refs("OLD", pk)+")", into+"("+d.refs("NEW", pk)+")"
	return []string{
		"CREATE TRIGGER " + d.Qualify(n.schema, names[0]) + " AFTER DELETE ON " + live + " FOR EACH ROW " + logOld,
		"CREATE TRIGGER " + d.Qualify(n.schema, names[1]) + " AFTER UPDATE ON " + live + " FOR EACH ROW BEGIN " +
			logOld + "; IF NOT (" + d.sameKey(pk) + ") THEN " + logNew + "; END IF; END",
		"CREATE TRIGGER " + d.Qualify(n.schema, names[2]) + " AFTER INSERT ON " + live + " FOR EACH ROW " + logNew,
	}
}

// sameKey is true in an update trigger when the update leaves the key as
// it was.
func (d mysqlDialect) sameKey(pk []string) string {
	same := make([]string, len(pk))
	for i, c := range pk {
		same[i] = "OLD." + d.Quote(c) + " <=> NEW." + d.Quote(c)
	}
	return strings.Join(same, " AND ")
}

// createLog creates the log and the replay's table of keys, unless an
// earlier attempt did: an entry's number, and the key's columns as the
// live table has them (type, character set, collation), so that the
// log's keys find their rows in both tables by the key's own equality.
func (d mysqlDialect) createLog(ctx context.Context, q database.Querier, n names, pk []string) error {
	rows, err := q.QueryContext(ctx, `
		SELECT COLUMN_NAME, COLUMN_TYPE, COALESCE(CHARACTER_SET_NAME, ''), COALESCE(COLLATION_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, n.schema, n.table)
	if err != nil {
		return err
	}
	defs := map[string]string{}
	for rows.Next() {
		var name, typ, charset, collation string
		if err := rows.Scan(&name, &typ, &charset, &collation); err != nil {
			_ = rows.Close()
			return err
		}
		defs[name] = d.Quote(name) + " " + typ
		if collation != "" {
			defs[name] += " CHARACTER SET " + charset + " COLLATE " + collation
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	var keys []string
	for _, c := range pk {
		if defs[c] == "" {
			return fmt.Errorf("no key column %s in %s", c, n.table)
		}
		keys = append(keys, defs[c]+" NOT NULL")
	}
	seqCol, _ := logColumns(pk)
	seq := d.Quote(seqCol) + " BIGINT UNSIGNED NOT NULL"
	for _, t := range []struct{ name, columns, comment string }{
		{logTable(n), seq + " AUTO_INCREMENT PRIMARY KEY, " + strings.Join(keys, ", "), logMarker(n)},
		{replayTable(n), seq + " PRIMARY KEY, " + strings.Join(keys, ", "), replayMarker(n)},
	} {
		info, err := d.relation(ctx, q, n.schema, t.name)
		if err != nil {
			return err
		}
		if info != nil {
			continue
		}
		if _, err := q.ExecContext(ctx, "CREATE TABLE "+d.Qualify(n.schema, t.name)+" ("+t.columns+
			") ENGINE=InnoDB COMMENT="+mysqlLiteral(t.comment)); err != nil {
			return err
		}
	}
	return nil
}

// replayTable names the table a replay lists the entries it applies in,
// so that no statement of it reads the log other than by the entries'
// numbers (see applyLog); replayMarker is its comment.
func replayTable(n names) string { return decorate(n.table, "_shadow_keys", n.limit) }
func replayMarker(n names) string {
	return markerPrefix + "keys of " + n.table + " replayed into " + n.shadow
}

// underLock runs stmts holding WRITE locks on tables (quoted, qualified).
// The session is released from LOCK TABLES even when ctx is done: a
// session left locking the table would stop the application.
func underLock(ctx context.Context, q database.Querier, tables, stmts []string) error {
	locks := make([]string, len(tables))
	for i, t := range tables {
		locks[i] = t + " WRITE"
	}
	if _, err := q.ExecContext(ctx, "LOCK TABLES "+strings.Join(locks, ", ")); err != nil {
		return err
	}
	err := execAll(ctx, q, stmts)
	if _, unlockErr := q.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES"); unlockErr != nil {
		err = errors.Join(err, fmt.Errorf("UNLOCK TABLES: %w", unlockErr))
	}
	return err
}

// refs lists rec's columns: NEW.`a`, NEW.`b`.
func (d mysqlDialect) refs(rec string, columns []string) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = rec + "." + d.Quote(c)
	}
	return strings.Join(parts, ", ")
}

// keyMatches matches the shadow's row with the key of record rec.
func (d mysqlDialect) keyMatches(pk []string, rec string) string {
	parts := make([]string, len(pk))
	for i, c := range pk {
		parts[i] = d.Quote(c) + " <=> " + rec + "." + d.Quote(c)
	}
	return strings.Join(parts, " AND ")
}

// dropTriggers drops the INSERT trigger first, so the shadow stops
// growing before it stops shrinking, then the log. Triggers still on the
// live table are dropped under the same locks as they were created, for
// the same reason; after a swap they sit on the table set aside, which
// the application no longer uses.
func (d mysqlDialect) dropTriggers(ctx context.Context, q database.Querier, n names) error {
	triggers, err := d.triggers(ctx, q, n)
	if err != nil {
		return err
	}
	var stmts []string
	onLive := false
	for _, name := range slices.Backward(syncTriggers(n)) {
		for _, t := range triggers {
			if t.name == name && d.ours(t, n) {
				stmts = append(stmts, "DROP TRIGGER IF EXISTS "+d.Qualify(n.schema, t.name))
				onLive = onLive || t.table == n.table
			}
		}
	}
	var ourLog []string
	for _, t := range d.logTables(n) {
		info, err := d.relation(ctx, q, n.schema, t.name)
		if err != nil {
			return err
		}
		if info != nil && t.ours(info) {
			ourLog = append(ourLog, "DROP TABLE IF EXISTS "+d.Qualify(n.schema, t.name))
		}
	}
	if onLive {
		tables := []string{d.Qualify(n.schema, n.table)}
		for _, name := range []string{n.shadow, logTable(n)} {
			info, err := d.relation(ctx, q, n.schema, name)
			if err != nil {
				return err
			}
			if info != nil && info.isTable {
				tables = append(tables, d.Qualify(n.schema, name))
			}
		}
		err = underLock(ctx, q, tables, stmts)
	} else {
		err = execAll(ctx, q, stmts)
	}
	if err != nil {
		return err
	}
	return execAll(ctx, q, ourLog)
}

// keyRange spells the comparison out column by column: MariaDB does not
// use an index for a row comparison such as (a, b) > (?, ?).
func (d mysqlDialect) keyRange(pk []string, after, upTo []any) (string, []any) {
	var conds []string
	var args []any
	if after != nil {
		c, a := d.lexicographic(pk, after, ">", ">")
		conds, args = append(conds, c), append(args, a...)
	}
	if upTo != nil {
		c, a := d.lexicographic(pk, upTo, "<", "<=")
		conds, args = append(conds, c), append(args, a...)
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), args
}

// lexicographic compares the key with vals: (a op ?) OR (a = ? AND b op
// ?) ..., the last column compared with last.
func (d mysqlDialect) lexicographic(pk []string, vals []any, op, last string) (string, []any) {
	var alts []string
	var args []any
	for i := range pk {
		var parts []string
		for j := range i {
			parts = append(parts, d.Quote(pk[j])+" = ?")
			args = append(args, vals[j])
		}
		o := op
		if i == len(pk)-1 {
			o = last
		}
		parts = append(parts, d.Quote(pk[i])+" "+o+" ?")
		args = append(args, vals[i])
		alts = append(alts, "("+strings.Join(parts, " AND ")+")")
	}
	return "(" + strings.Join(alts, " OR ") + ")", args
}

// logsWrites: the triggers log the keys the application writes, as on
// PostgreSQL, so that nothing it runs waits for the copy (a batch's
// INSERT ... SELECT holds the shadow's AUTO-INC lock to its end, which a
// trigger's insert into the shadow queues behind) or for the index
// builds (an online ADD INDEX ends under an exclusive metadata lock on
// the shadow). Not when the shadow has a unique index besides its primary
// key or a foreign key: rows the copy moved at different moments may
// break it until the log is applied (a value moved from one row to
// another between their batches, a parent deleted after its child was
// copied), and MySQL cannot build either from one moment's rows as
// PostgreSQL does; nor when a column of the key differs in type or
// collation from the live table's, by which the log matches rows; nor on
// MySQL itself, which has no CREATE OR REPLACE TRIGGER (see
// switchStatements). Then the triggers write the shadow from the start.
func (d mysqlDialect) logsWrites(ctx context.Context, q database.Querier, n names) (bool, error) {
	var obstacles int
	err := q.QueryRowContext(ctx, `
		SELECT (VERSION() NOT LIKE '%MariaDB%')
		+ (SELECT COUNT(*) FROM information_schema.STATISTICS
			WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY')
		+ (SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?)
		+ (SELECT COUNT(*) FROM information_schema.COLUMNS s
			LEFT JOIN information_schema.COLUMNS l
				ON l.TABLE_SCHEMA = s.TABLE_SCHEMA AND l.TABLE_NAME = ? AND l.COLUMN_NAME = s.COLUMN_NAME
			WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.COLUMN_KEY = 'PRI'
			AND NOT (s.COLUMN_TYPE <=> l.COLUMN_TYPE AND s.COLLATION_NAME <=> l.COLLATION_NAME))`,
		n.schema, n.shadow, n.schema, n.shadow, n.table, n.schema, n.shadow).Scan(&obstacles)
	return obstacles == 0, err
}

// replayChunk and drainChunk are the most entries of the log one
// transaction of a replay, and of drainLog, applies: drainLog's lock the
// live rows they apply, which the application may wait for.
const (
	replayChunk = 10_000
	drainChunk  = 200
)

// replay applies the entries of the log up to the last one written when
// it starts, replayChunk to a READ COMMITTED transaction (whose INSERT
// ... SELECT reads without locking; REPEATABLE READ's would lock the rows
// it reads and the gaps between them, which the application's writes
// would wait for), and returns how many it applied: each logged key's row
// is deleted from the shadow and copied again from the live table, and
// exactly those entries go. An entry of a transaction not committed yet,
// whatever its number, is neither applied nor removed (InnoDB numbers
// entries as they are written, not as they commit): a later replay
// applies it, and a change committed after a statement read the live
// table has an entry of its own.
func (d mysqlDialect) replay(ctx context.Context, conn *sql.Conn, n names, pk, columns []string) (int, error) {
	seqCol, _ := logColumns(pk)
	var last sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT MAX("+d.Quote(seqCol)+") FROM "+d.Qualify(n.schema, logTable(n))).Scan(&last); err != nil || !last.Valid {
		return 0, err
	}
	rc := &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	return d.applyChunks(ctx, conn, n, func(after string) (int, string, error) {
		var applied int
		var next string
		err := withRetries(ctx, d, func() error {
			return inTx(ctx, conn, rc, func(tx *sql.Tx) error {
				var err error
				applied, next, err = d.applyLog(ctx, tx, n, pk, columns, after, last.String, replayChunk, false)
				return err
			})
		})
		return applied, next, err
	}, replayChunk)
}

// applyChunks empties the replay's table and runs chunk, each after the
// last entry the one before applied, until one applies fewer than size;
// it returns how many they applied.
func (d mysqlDialect) applyChunks(ctx context.Context, conn *sql.Conn, n names, chunk func(after string) (int, string, error), size int) (int, error) {
	if _, err := conn.ExecContext(ctx, "TRUNCATE TABLE "+d.Qualify(n.schema, replayTable(n))); err != nil {
		return 0, fmt.Errorf("emptying %s: %w", replayTable(n), err)
	}
	total, after := 0, "0"
	for {
		applied, next, err := chunk(after)
		total += applied
		if err != nil || applied < size {
			return total, err
		}
		after = next
	}
}

// applyLog applies, in tx, the oldest entries of the log it sees after
// number after, up to limit and up to number upTo when set, and returns
// how many it applied and the last one's number. It lists them in the
// replay's table, with an INSERT ... SELECT that, in READ COMMITTED,
// reads the log without a lock, then goes from that list to the log, the
// live table and the shadow through their primary keys: a locking read
// that scanned the log would wait for the entries of the application's
// transactions still open (MySQL scans a table for a long list of
// values, and a range scan locks the row after its range), and one that
// scanned the live table would lock rows the application writes. The
// replay's table keeps the entries of the run's earlier transactions
// (applyChunks empties it first), which each statement passes over by
// number: deleted, they would be left for InnoDB's purge, and each
// statement would read past them. With lock, the first statement locks
// the live rows of the keys, in key order, and, in a REPEATABLE READ
// transaction, the gaps where the keys it does not find would go, so that
// the application's own writes of those keys, which the triggers then
// write to the shadow too, wait for tx to commit and are not undone by
// it; it fails rather than wait for a row the application holds (NOWAIT),
// so that tx never waits for a transaction of the application's that
// waits for it, where InnoDB would roll back the application's, the
// smaller.
func (d mysqlDialect) applyLog(ctx context.Context, tx *sql.Tx, n names, pk, columns []string, after, upTo string, limit int, lock bool) (int, string, error) {
	shadow, live := d.Qualify(n.schema, n.shadow), d.Qualify(n.schema, n.table)
	log, keys := d.Qualify(n.schema, logTable(n)), d.Qualify(n.schema, replayTable(n))
	seqCol, _ := logColumns(pk)
	seq, pkList := d.Quote(seqCol), quoteList(d.Quote, pk)
	where := " WHERE " + seq + " > " + after
	if upTo != "" {
		where += " AND " + seq + " <= " + upTo
	}
	// The numbers are the server's own unsigned integers, written back
	// as they were read.
	res, err := tx.ExecContext(ctx, "INSERT INTO "+keys+" ("+seq+", "+pkList+") SELECT "+seq+", "+pkList+
		" FROM "+log+where+" ORDER BY "+seq+" LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return 0, "", fmt.Errorf("reading the log: %w", err)
	}
	listed, err := res.RowsAffected()
	if err != nil || listed == 0 {
		return 0, "", err
	}
	from, chunk := " FROM "+keys+" k STRAIGHT_JOIN ", " WHERE k."+seq+" > "+after
	var stmts []string
	if lock {
		// The live rows first, as the application's writes take them
		// before their triggers take the shadow's.
		stmts = append(stmts, "SELECT 1"+from+live+" t ON "+d.keysEqual(pk, "t", "k")+chunk+
			" ORDER BY "+d.refs("k", pk)+" FOR UPDATE NOWAIT")
	}
	stmts = append(stmts,
		"DELETE s"+from+shadow+" s ON "+d.keysEqual(pk, "s", "k")+chunk,
		"INSERT INTO "+shadow+" ("+quoteList(d.Quote, columns)+") SELECT DISTINCT "+d.refs("t", columns)+
			from+live+" t ON "+d.keysEqual(pk, "t", "k")+chunk,
		"DELETE l"+from+log+" l ON l."+seq+" = k."+seq+chunk,
	)
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return 0, "", fmt.Errorf("applying the log: %s: %w", firstLine(stmt), err)
		}
	}
	var last string
	if err := tx.QueryRowContext(ctx, "SELECT MAX(k."+seq+") FROM "+keys+" k"+chunk).Scan(&last); err != nil {
		return 0, "", fmt.Errorf("applying the log: %w", err)
	}
	return int(listed), last, nil
}

// keysEqual matches the key columns of the rows of two aliases.
func (d mysqlDialect) keysEqual(pk []string, a, b string) string {
	parts := make([]string, len(pk))
	for i, c := range pk {
		parts[i] = a + "." + d.Quote(c) + " = " + b + "." + d.Quote(c)
	}
	return strings.Join(parts, " AND ")
}

// prepareSwitch returns the switch, one step: under WRITE locks on the
// live table, the shadow and the log (see installTriggers) it replaces
// the triggers that log keys with those that write the shadow (see
// switchStatements). The lock waits for every transaction that wrote the
// live table to end, so the log is complete once it is taken; drainLog
// applies what is left of it after the lock, while the application
// writes the shadow through the triggers. One lock for the three
// statements, not one each: the application's prepared statements failed
// more often with one each. budget is PostgreSQL's.
func (d mysqlDialect) prepareSwitch(_ context.Context, _ database.Querier, n names, pk, columns []string, _ time.Duration) ([]func(context.Context, *sql.Tx, func()) error, error) {
	tables := []string{d.Qualify(n.schema, n.table), d.Qualify(n.schema, n.shadow), d.Qualify(n.schema, logTable(n))}
	stmts := d.switchStatements(n, pk, columns)
	return []func(context.Context, *sql.Tx, func()) error{func(ctx context.Context, tx *sql.Tx, locking func()) error {
		locking()
		// LOCK TABLES commits tx's transaction, which has done nothing.
		return underLock(ctx, tx, tables, stmts)
	}}, nil
}

// switchStatements are the switch's: each trigger that logs keys replaced
// by the one that writes the shadow, under its name, in one statement
// (CREATE OR REPLACE TRIGGER, MariaDB's), so that every event has one
// trigger at every moment, whichever statement an attempt stops at (DDL
// commits statement by statement). Never two of one event: MariaDB failed
// the application's prepared statements ("Table ... doesn't exist") when
// the sync triggers were created beside the log's, in most runs of the
// concurrent-write test.
func (d mysqlDialect) switchStatements(n names, pk, columns []string) []string {
	stmts := d.createSyncTriggers(n, pk, columns)
	for i, stmt := range stmts {
		stmts[i] = "CREATE OR REPLACE" + strings.TrimPrefix(stmt, "CREATE")
	}
	return stmts
}

// drainLog applies the log the switch completed, drainChunk entries to a
// REPEATABLE READ transaction that locks the live rows of its keys (and
// the gaps of those gone, see applyLog), so that the application's writes
// of them, which reach the shadow through the triggers now, come after. A
// transaction that finds a row the application holds is tried again,
// after a pause, up to drainAttempts times.
func (d mysqlDialect) drainLog(ctx context.Context, conn *sql.Conn, n names, pk, columns []string) error {
	rr := &sql.TxOptions{Isolation: sql.LevelRepeatableRead}
	_, err := d.applyChunks(ctx, conn, n, func(after string) (int, string, error) {
		var applied int
		var next string
		var err error
		for attempt := 1; ; attempt++ {
			err = inTx(ctx, conn, rr, func(tx *sql.Tx) error {
				var err error
				applied, next, err = d.applyLog(ctx, tx, n, pk, columns, after, "", drainChunk, true)
				return err
			})
			if err == nil || !d.retryable(err) || attempt == drainAttempts {
				return applied, next, err
			}
			select {
			case <-ctx.Done():
				return 0, "", ctx.Err()
			case <-time.After(min(time.Duration(attempt)*20*time.Millisecond, 500*time.Millisecond)):
			}
		}
	}, drainChunk)
	return err
}

// drainAttempts bounds the attempts at one transaction of drainLog: about
// 45 s of pauses.
const drainAttempts = 100

// dropLog drops the log once the switch is done: no trigger writes it
// any more.
func (d mysqlDialect) dropLog(ctx context.Context, q database.Querier, n names) error {
	_, err := q.ExecContext(ctx, "DROP TABLE IF EXISTS "+d.Qualify(n.schema, logTable(n))+", "+d.Qualify(n.schema, replayTable(n)))
	return err
}

func (mysqlDialect) compactLog(context.Context, database.Querier, names) error { return nil }

// beginBatch has nothing to do: copyRows's locking read keeps deletes
// from running while it reads, and InnoDB's flush at commit is a server
// setting (innodb_flush_log_at_trx_commit), not a session's.
func (mysqlDialect) beginBatch(context.Context, *sql.Tx, names, int, time.Duration) error { return nil }

// plainIndex matches a plain secondary index in SHOW CREATE TABLE's
// output: not the primary key, a unique, full-text or spatial key, nor a
// constraint.
var plainIndex = regexp.MustCompile("^\\s*KEY `((?:[^`]|``)+)` ")

// deferIndexes defers the shadow's plain secondary indexes, taking their
// definitions from SHOW CREATE TABLE, whose lines are valid clauses of
// ALTER TABLE ... ADD. An index a foreign key needs cannot be dropped
// (MySQL refuses it): it stays.
func (d mysqlDialect) deferIndexes(ctx context.Context, q database.Querier, n names) ([]deferredIndex, error) {
	shadow := d.Qualify(n.schema, n.shadow)
	var table, create string
	if err := q.QueryRowContext(ctx, "SHOW CREATE TABLE "+shadow).Scan(&table, &create); err != nil {
		return nil, fmt.Errorf("reading the definition of %s: %w", n.shadow, err)
	}
	var out []deferredIndex
	for line := range strings.SplitSeq(create, "\n") {
		m := plainIndex.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name := strings.ReplaceAll(m[1], "``", "`")
		_, err := q.ExecContext(ctx, "ALTER TABLE "+shadow+" DROP INDEX "+d.Quote(name))
		var myErr *mysql.MySQLError
		if errors.As(err, &myErr) && myErr.Number == mysqlDropIndexFK {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dropping index %s of %s until the copy is done: %w", name, n.shadow, err)
		}
		clause := "ADD " + strings.TrimSuffix(strings.TrimSpace(line), ",")
		out = append(out, deferredIndex{name: name, create: []string{clause}})
	}
	return out, nil
}

// buildIndexes adds every deferred index in one online ALTER TABLE (one
// scan of the shadow, a sort per index) that lets the triggers go on
// writing: InnoDB logs their writes meanwhile and applies them at the
// end, under a brief exclusive metadata lock.
func (d mysqlDialect) buildIndexes(ctx context.Context, conn *sql.Conn, n names, idx []deferredIndex) error {
	clauses := make([]string, 0, len(idx)+2)
	for _, i := range idx {
		clauses = append(clauses, i.create...)
	}
	clauses = append(clauses, "ALGORITHM=INPLACE", "LOCK=NONE")
	_, err := conn.ExecContext(ctx, "ALTER TABLE "+d.Qualify(n.schema, n.shadow)+" "+strings.Join(clauses, ", "))
	return err
}

// replicationLag: a MySQL or MariaDB server does not know how far its
// replicas are behind (only a replica does, in SHOW REPLICA STATUS), so
// the lag Run sees is its own probe's.
func (mysqlDialect) replicationLag(context.Context, database.Querier) (time.Duration, error) {
	return 0, nil
}

// copyRows, where the triggers log keys, reads the rows as last
// committed (READ COMMITTED, see copyBatch), locking none: a row changed
// after has an entry in the log, whose replay copies it again or removes
// it. Elsewhere it reads with LOCK IN SHARE MODE, a locking read of the
// newest committed rows: a row deleted after the copy started is not
// copied back. With keepExisting, ON DUPLICATE KEY UPDATE keeps the triggers'
// newer row; INSERT IGNORE would do the same but also turn every data
// error of the copy into a warning and store a truncated value.
//
// SQL_BUFFER_RESULT reads the whole range, taking its row locks, before
// the first row is inserted. Streamed, the statement took the shadow's
// AUTO-INC lock at its first row and then waited for the lock of a row
// an application's update held, while that update's trigger waited for
// the AUTO-INC lock: a deadlock, whose victim was the application's
// statement (in about one run in two of the concurrent-write test and of
// the benchmark under a writer; none in eight of each since). It also
// leaves the reads out of what the application's writes wait for, and,
// where the triggers log keys, out of the AUTO-INC lock the lanes'
// inserts take in turn, so that one lane reads while another inserts.
func (d mysqlDialect) copyRows(n names, pk, columns []string, where string, logged, keepExisting bool) string {
	shadow := d.Qualify(n.schema, n.shadow)
	cols := quoteList(d.Quote, columns)
	from := " FROM " + d.Qualify(n.schema, n.table) + " WHERE " + where
	if logged {
		return "INSERT INTO " + shadow + " (" + cols + ") SELECT SQL_BUFFER_RESULT " + cols + from
	}
	stmt := "INSERT INTO " + shadow + " (" + cols + ") SELECT SQL_BUFFER_RESULT " + cols + from + " LOCK IN SHARE MODE"
	if keepExisting {
		keep := shadow + "." + d.Quote(pk[0])
		stmt += " ON DUPLICATE KEY UPDATE " + keep + " = " + keep
	}
	return stmt
}

func (d mysqlDialect) keyNotIn(pk []string, keys [][]any, _ int) (string, []any) {
	return keyNotIn(d.Quote, pk, keys, func(int) string { return "?" })
}

func (mysqlDialect) duplicate(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && myErr.Number == mysqlDuplicateKey
}

// swap exchanges the tables in one RENAME TABLE, which MySQL runs
// atomically under one lock; the comments are settled after it, so the
// lock covers the rename alone.
func (d mysqlDialect) swap(ctx context.Context, conn *sql.Conn, s swapSpec) (time.Duration, error) {
	start := time.Now()
	rename := "RENAME TABLE " + d.Qualify(s.n.schema, s.live) + " TO " + d.Qualify(s.n.schema, s.aside) +
		", " + d.Qualify(s.n.schema, s.incoming) + " TO " + d.Qualify(s.n.schema, s.live)
	if _, err := conn.ExecContext(ctx, rename); err != nil {
		return 0, fmt.Errorf("renaming %s and %s: %w", s.live, s.incoming, err)
	}
	return time.Since(start), nil
}

// settle drops the sync triggers, which the rename took along to the
// table set aside, gives the table now in place its own comment (until
// then it carried its marker: Abort repairs that after a crash) and
// marks the table set aside as kube-shift's.
func (d mysqlDialect) settle(ctx context.Context, q database.Querier, s swapSpec) error {
	if err := d.dropTriggers(ctx, q, s.n); err != nil {
		return err
	}
	if err := d.setComment(ctx, q, s.n.schema, s.live, s.incomingComment); err != nil {
		return err
	}
	return d.setComment(ctx, q, s.n.schema, s.aside, mark(s.asideRole, s.n.table, s.liveComment))
}

func (mysqlDialect) retryable(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && (myErr.Number == mysqlDeadlock || myErr.Number == mysqlLockWaitTimeout || myErr.Number == mysqlLockNowait)
}

func (mysqlDialect) copyTable(shadow, live string) []string {
	return []string{"CREATE TABLE " + shadow + " LIKE " + live}
}
