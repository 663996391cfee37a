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

// mysqlDialect runs shadow-table changes on MySQL and MariaDB, as
// pt-online-schema-change does: three triggers, and one RENAME TABLE that
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
	return out, nil
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

// ours reports whether t is a sync trigger of n's: one of Run's names, on
// the table or (after a swap) its backup, writing into the shadow.
func (d mysqlDialect) ours(t trigger, n names) bool {
	return slices.Contains(syncTriggers(n), t.name) &&
		(t.table == n.table || t.table == n.backup) &&
		strings.Contains(t.body, d.Qualify(n.schema, n.shadow))
}

// syncTriggers names the DELETE, UPDATE and INSERT triggers, in the order
// they are created.
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
// both tables, so that every other session sees all of them or none.
// The lock matters beyond atomicity: MariaDB 10.11 fails server-side
// prepared statements that run while CREATE TRIGGER adds a table to their
// prelocking set ("Table '..._new' doesn't exist"); measured: 29 of 30
// loaded runs without the lock, none with it. Every trigger writes in the
// application's transaction, so mirrored writes commit or roll back with
// it.
func (d mysqlDialect) installTriggers(ctx context.Context, conn *sql.Conn, n names, pk, columns []string, locking func()) error {
	live, shadow := d.Qualify(n.schema, n.table), d.Qualify(n.schema, n.shadow)
	names := syncTriggers(n)
	replace := "REPLACE INTO " + shadow + " (" + quoteList(d.Quote, columns) + ") VALUES (" + d.refs("NEW", columns) + ")"
	deleteOld := "DELETE FROM " + shadow + " WHERE " + d.keyMatches(pk, "OLD")
	var same []string
	for _, c := range pk {
		same = append(same, "OLD."+d.Quote(c)+" <=> NEW."+d.Quote(c))
	}
	// An earlier attempt may have created some before failing: the names
	// are the run's (preflight refused them were they anyone else's).
	var stmts []string
	for _, name := range names {
		stmts = append(stmts, "DROP TRIGGER IF EXISTS "+d.Qualify(n.schema, name))
	}
	stmts = append(stmts,
		"CREATE TRIGGER "+d.Qualify(n.schema, names[0])+" AFTER DELETE ON "+live+" FOR EACH ROW "+deleteOld,
		"CREATE TRIGGER "+d.Qualify(n.schema, names[1])+" AFTER UPDATE ON "+live+" FOR EACH ROW BEGIN "+
			"IF NOT ("+strings.Join(same, " AND ")+") THEN "+deleteOld+"; END IF; "+replace+"; END",
		"CREATE TRIGGER "+d.Qualify(n.schema, names[2])+" AFTER INSERT ON "+live+" FOR EACH ROW "+replace,
	)
	locking()
	return underLock(ctx, conn, []string{live, shadow}, stmts)
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
// growing before it stops shrinking. Triggers still on the live table are
// dropped under the same locks as they were created, for the same
// reason; after a swap they sit on the table set aside, which the
// application no longer uses.
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
	if !onLive {
		return execAll(ctx, q, stmts)
	}
	shadow, err := describe(ctx, d, q, n.schema, n.shadow)
	if err != nil {
		return err
	}
	tables := []string{d.Qualify(n.schema, n.table)}
	if shadow != nil {
		tables = append(tables, d.Qualify(n.schema, n.shadow))
	}
	return underLock(ctx, q, tables, stmts)
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

// logsWrites: the triggers write the shadow from the start (see dialect).
func (mysqlDialect) logsWrites() bool { return false }

func (mysqlDialect) replay(context.Context, *sql.Tx, names, []string, []string) (int, error) {
	return 0, nil
}

func (mysqlDialect) prepareSwitch(context.Context, database.Querier, names, []string, []string, time.Duration) (func(context.Context, *sql.Tx) error, error) {
	return func(context.Context, *sql.Tx) error { return nil }, nil
}

func (mysqlDialect) dropLog(context.Context, database.Querier, names) error { return nil }

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

// copyRows reads with LOCK IN SHARE MODE, a locking read of the newest
// committed rows: a row deleted after the copy started is not copied
// back. With keepExisting, ON DUPLICATE KEY UPDATE keeps the triggers'
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
// leaves the reads out of what the application's writes wait for.
func (d mysqlDialect) copyRows(n names, pk, columns []string, where string, keepExisting bool) string {
	shadow := d.Qualify(n.schema, n.shadow)
	cols := quoteList(d.Quote, columns)
	stmt := "INSERT INTO " + shadow + " (" + cols + ") SELECT SQL_BUFFER_RESULT " + cols + " FROM " + d.Qualify(n.schema, n.table) +
		" WHERE " + where + " LOCK IN SHARE MODE"
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
	return errors.As(err, &myErr) && (myErr.Number == mysqlDeadlock || myErr.Number == mysqlLockWaitTimeout)
}

func (mysqlDialect) copyTable(shadow, live string) []string {
	return []string{"CREATE TABLE " + shadow + " LIKE " + live}
}
