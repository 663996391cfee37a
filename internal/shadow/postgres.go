package shadow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"ariga.io/atlas/sql/postgres"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func init() {
	dialects[postgres.DriverName] = func(e database.Engine) dialect { return postgresDialect{e} }
}

// postgresDialect runs shadow-table changes on PostgreSQL. Its swap is one
// transaction: PostgreSQL's DDL is transactional, so the renames, the
// trigger drop and the index and sequence hand-over commit together or
// not at all.
type postgresDialect struct {
	database.Catalog
}

// PostgreSQL error codes the copy and the swap retry on.
const (
	pgDeadlock         = "40P01"
	pgSerialization    = "40001"
	pgLockNotAvailable = "55P03"
	pgUniqueViolation  = "23505"
	pgQueryCanceled    = "57014"
)

// prepareSession bounds every lock wait of the session, row locks of the
// copy included: a wait that times out is retried, where an unbounded one
// would queue the application's statements behind the run.
func (d postgresDialect) prepareSession(ctx context.Context, conn *sql.Conn, lockTimeout time.Duration) error {
	return d.setLockWait(ctx, conn, lockTimeout)
}

func (d postgresDialect) restoreLockWait(ctx context.Context, q database.Querier, lockTimeout time.Duration) error {
	return d.setLockWait(ctx, q, lockTimeout)
}

// setLockWait sets lock_timeout, in milliseconds and at least one: zero
// would mean no bound at all.
func (postgresDialect) setLockWait(ctx context.Context, q database.Querier, wait time.Duration) error {
	_, err := q.ExecContext(ctx, "SET lock_timeout = '"+strconv.FormatInt(max(wait.Milliseconds(), 1), 10)+"ms'")
	return err
}

func (postgresDialect) relation(ctx context.Context, q database.Querier, schema, name string) (*tableInfo, error) {
	info := &tableInfo{}
	err := q.QueryRowContext(ctx, `
		SELECT c.relkind IN ('r', 'p'), COALESCE(obj_description(c.oid, 'pg_class'), '')
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&info.isTable, &info.comment)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return info, err
}

func (d postgresDialect) referencedBy(ctx context.Context, q database.Querier, n names) ([]string, error) {
	return database.QueryStrings(ctx, q, `
		SELECT format('constraint %I on %s', conname, conrelid::regclass)
		FROM pg_catalog.pg_constraint
		WHERE contype = 'f' AND confrelid = $1::regclass
		ORDER BY 1`, d.Qualify(n.schema, n.table))
}

// obstacles are what stays with the old table when it is renamed, because
// PostgreSQL binds it to the table's OID and not its name (views, rules,
// policies, publications, triggers), what a copy does not carry
// (partitions, inheritance, column privileges), and what would let rows
// escape the copy.
func (d postgresDialect) obstacles(ctx context.Context, q database.Querier, n names) ([]string, error) {
	return database.QueryStrings(ctx, q, `
		SELECT 'it is partitioned' FROM pg_catalog.pg_class WHERE oid = $1::regclass AND relkind = 'p'
		UNION ALL
		SELECT 'it is part of an inheritance tree'
		WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_inherits WHERE inhrelid = $1::regclass OR inhparent = $1::regclass)
		UNION ALL
		SELECT 'its primary key is deferrable, which the sync trigger''s upsert cannot use'
		FROM pg_catalog.pg_constraint WHERE conrelid = $1::regclass AND contype = 'p' AND condeferrable
		UNION ALL
		SELECT 'row-level security is enabled' FROM pg_catalog.pg_class WHERE oid = $1::regclass AND relrowsecurity
		UNION ALL
		SELECT format('policy %I', polname) FROM pg_catalog.pg_policy WHERE polrelid = $1::regclass
		UNION ALL
		SELECT format('rule %I', rulename) FROM pg_catalog.pg_rewrite WHERE ev_class = $1::regclass
		UNION ALL
		SELECT DISTINCT format('%s %s uses it', CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, v.oid::regclass)
		FROM pg_catalog.pg_depend dep
		JOIN pg_catalog.pg_rewrite r ON r.oid = dep.objid
		JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
		WHERE dep.classid = 'pg_catalog.pg_rewrite'::regclass AND dep.refclassid = 'pg_catalog.pg_class'::regclass
		  AND dep.refobjid = $1::regclass AND r.ev_class <> $1::regclass
		UNION ALL
		SELECT format('trigger %I', tgname) FROM pg_catalog.pg_trigger
		WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgfoid IS DISTINCT FROM (`+pgOurFunction(2, 3)+`)
		UNION ALL
		SELECT format('publication %I', p.pubname)
		FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
		WHERE pr.prrelid = $1::regclass
		UNION ALL
		SELECT format('column privileges on %I', attname) FROM pg_catalog.pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attacl IS NOT NULL
		UNION ALL
		SELECT DISTINCT format('it or an index of it is in tablespace %I, where this role may not create (the shadow would leave it)', t.spcname)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace
		WHERE (c.oid = $1::regclass OR c.oid IN (SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid = $1::regclass))
		  AND NOT has_tablespace_privilege(t.oid, 'CREATE')`,
		d.Qualify(n.schema, n.table), d.syncSignature(n), syncMarker(n))
}

// pgOurFunction selects the OID of the run's trigger function, given its
// signature and marker in the numbered parameters: a function of that
// name without the marker is someone else's.
func pgOurFunction(signature, marker int) string {
	return fmt.Sprintf(`SELECT p.oid FROM pg_catalog.pg_proc p
		WHERE p.oid = to_regprocedure($%d) AND obj_description(p.oid, 'pg_proc') = $%d`, signature, marker)
}

func (d postgresDialect) foreignNames(ctx context.Context, q database.Querier, n names) ([]string, error) {
	return database.QueryStrings(ctx, q, `
		SELECT format('function %s', p.oid::regprocedure)
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace ns ON ns.oid = p.pronamespace
		WHERE ns.nspname = $1 AND p.proname = $2 AND COALESCE(obj_description(p.oid, 'pg_proc'), '') <> $3
		UNION ALL
		SELECT format('%I is not a log table of kube-shift''s', c.relname)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = $1 AND c.relname = $4 AND (c.relkind <> 'r' OR COALESCE(obj_description(c.oid, 'pg_class'), '') <> $5)`,
		n.schema, syncFunction(n), syncMarker(n), logTable(n), logMarker(n))
}

func (d postgresDialect) setComment(ctx context.Context, q database.Querier, schema, name, comment string) error {
	text := "NULL"
	if comment != "" {
		text = pgLiteral(comment)
	}
	_, err := q.ExecContext(ctx, "COMMENT ON TABLE "+d.Qualify(schema, name)+" IS "+text)
	return err
}

// pgLiteral is s as an escape string literal, which means the same
// whatever standard_conforming_strings says.
func pgLiteral(s string) string {
	return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// inheritTablespace moves the shadow, just created and empty (moving it
// costs nothing), to the live table's tablespace, which CREATE TABLE ...
// LIKE does not copy; before the change's clauses, which may move it on,
// and only from the default one, where a definition of the change's own
// may have put it elsewhere. (preflight refused a tablespace the role may
// not create in.)
func (d postgresDialect) inheritTablespace(ctx context.Context, q database.Querier, n names) error {
	live, shadow := d.Qualify(n.schema, n.table), d.Qualify(n.schema, n.shadow)
	var tablespace string
	if err := q.QueryRowContext(ctx, `
		SELECT COALESCE(quote_ident(t.spcname), '')
		FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace
		WHERE c.oid = $1::regclass AND (SELECT reltablespace FROM pg_catalog.pg_class WHERE oid = $2::regclass) = 0`,
		live, shadow).Scan(&tablespace); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("reading the tablespace of %s: %w", live, err)
	}
	if tablespace == "" {
		return nil
	}
	if _, err := q.ExecContext(ctx, "ALTER TABLE "+shadow+" SET TABLESPACE "+tablespace); err != nil {
		return fmt.Errorf("moving %s to the tablespace of %s: %w", shadow, live, err)
	}
	return nil
}

// inheritAccess gives the shadow the live table's owner and privileges:
// PostgreSQL keeps them on the table's OID, so the renamed shadow would
// otherwise lock the application out.
func (d postgresDialect) inheritAccess(ctx context.Context, q database.Querier, n names) error {
	live, shadow := d.Qualify(n.schema, n.table), d.Qualify(n.schema, n.shadow)
	var owner string
	var mine bool
	if err := q.QueryRowContext(ctx, `
		SELECT quote_ident(pg_get_userbyid(relowner)), pg_get_userbyid(relowner) = current_user
		FROM pg_catalog.pg_class WHERE oid = $1::regclass`, live).Scan(&owner, &mine); err != nil {
		return fmt.Errorf("reading the owner of %s: %w", live, err)
	}
	if !mine {
		if _, err := q.ExecContext(ctx, "ALTER TABLE "+shadow+" OWNER TO "+owner); err != nil {
			return fmt.Errorf("giving %s the owner of %s: %w", shadow, live, err)
		}
	}
	grants, err := database.QueryStrings(ctx, q, `
		SELECT format('GRANT %s ON %s TO %s%s', a.privilege_type, $2::text,
			CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
			CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
		FROM pg_catalog.pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
		WHERE c.oid = $1::regclass`, live, shadow)
	if err != nil {
		return fmt.Errorf("reading the privileges on %s: %w", live, err)
	}
	return execAll(ctx, q, grants)
}

// foreignKeyCopies add the live table's foreign keys to the shadow, NOT
// VALID and then validated (see foreignKeys).
func (d postgresDialect) foreignKeyCopies(ctx context.Context, q database.Querier, n names) ([]string, error) {
	// Constraint names are per table in PostgreSQL: the copies keep them.
	keys, err := d.foreignKeys(ctx, q, n.table, n)
	if err != nil {
		return nil, err
	}
	var stmts []string
	for _, fk := range keys {
		stmts = append(stmts, fk.create...)
	}
	for _, fk := range keys {
		stmts = append(stmts, fk.then...)
	}
	return stmts, nil
}

// syncFunction names the trigger function mirroring writes into the shadow.
func syncFunction(n names) string { return decorate(n.table, "_shadow_sync", n.limit) }

// syncMarker is the trigger function's comment, by which Abort knows it.
func syncMarker(n names) string { return markerPrefix + "sync of " + n.table + " into " + n.shadow }

func (d postgresDialect) syncSignature(n names) string {
	return d.Qualify(n.schema, syncFunction(n)) + "()"
}

// Trigger names, per table in PostgreSQL.
func rowTrigger(n names) string      { return decorate(n.table, "_shadow_row", n.limit) }
func truncateTrigger(n names) string { return decorate(n.table, "_shadow_truncate", n.limit) }

// logTable names the table the triggers log the changed keys in during
// the copy; logMarker is its comment, by which Abort knows it.
func logTable(n names) string  { return decorate(n.table, "_shadow_log", n.limit) }
func logMarker(n names) string { return markerPrefix + "log of " + n.table + " for " + n.shadow }

// logColumns names the log's own columns, beside copies of the primary
// key's: the order of the entries, and whether an entry stands for a
// TRUNCATE; with underscores added until no key column has their name.
func logColumns(pk []string) (seq, truncate string) {
	seq, truncate = "kube_shift_seq", "kube_shift_truncate"
	for slices.Contains(pk, seq) || slices.Contains(pk, truncate) {
		seq, truncate = seq+"_", truncate+"_"
	}
	return seq, truncate
}

// installTriggers creates the log, the sync function and its triggers in
// one transaction, so they exist together or not at all. Until the copy
// is done (see catchUp) the function only logs the keys the application
// writes, in an unlogged table: the shadow, without its indexes, is the
// copy's alone, and nothing the application does waits for a batch. The
// function is SECURITY DEFINER, so the application's role needs no
// privilege on the log or the shadow, and its search_path cannot
// redirect the qualified names in it; nobody may call it but the
// triggers (EXECUTE is revoked from PUBLIC, and it refuses to run for
// another table than the live one).
func (d postgresDialect) installTriggers(ctx context.Context, conn *sql.Conn, n names, pk, _ []string, _ bool, locking func()) error {
	live, fn, log := d.Qualify(n.schema, n.table), d.syncSignature(n), d.Qualify(n.schema, logTable(n))
	return inTx(ctx, conn, nil, func(tx *sql.Tx) error {
		// The key's columns with their collations and their types, a
		// domain's base type in place of the domain (a TRUNCATE's entry
		// has no key, which a NOT NULL domain would refuse).
		columns, err := database.QueryStrings(ctx, tx, `
			WITH RECURSIVE base(attnum, typ, typmod) AS (
				SELECT a.attnum, a.atttypid, a.atttypmod FROM pg_catalog.pg_attribute a
				WHERE a.attrelid = $1::regclass AND a.attname = ANY($2)
				UNION ALL
				SELECT b.attnum, t.typbasetype, t.typtypmod FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.typ
				WHERE t.typtype = 'd')
			SELECT format('%I %s%s', a.attname, format_type(b.typ, b.typmod),
				CASE WHEN a.attcollation <> 0 THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END)
			FROM base b JOIN pg_catalog.pg_attribute a ON a.attrelid = $1::regclass AND a.attnum = b.attnum
			JOIN pg_catalog.pg_type t ON t.oid = b.typ AND t.typtype <> 'd'
			ORDER BY array_position($2, a.attname::text)`, live, pk)
		if err != nil {
			return fmt.Errorf("reading the key's types: %w", err)
		}
		body, err := d.logBody(ctx, tx, n, pk)
		if err != nil {
			return err
		}
		seq, truncate := logColumns(pk)
		err = execAll(ctx, tx, []string{
			"CREATE UNLOGGED TABLE " + log + " (" + strings.Join(columns, ", ") + ", " +
				d.Quote(seq) + " bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, " +
				d.Quote(truncate) + " boolean NOT NULL DEFAULT false)" +
				// Vacuum's truncation of the emptied end would lock the log
				// while the switch, holding the live table, replays it.
				" WITH (vacuum_truncate = false)",
			// The TRUNCATE entries, which each replay looks for first.
			"CREATE INDEX ON " + log + " (" + d.Quote(seq) + ") WHERE " + d.Quote(truncate),
			"COMMENT ON TABLE " + log + " IS " + pgLiteral(logMarker(n)),
			"CREATE FUNCTION " + fn + " RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER" + pgFunctionSettings + " AS " + dollarQuote(body),
			"REVOKE EXECUTE ON FUNCTION " + fn + " FROM PUBLIC",
			"COMMENT ON FUNCTION " + fn + " IS " + pgLiteral(syncMarker(n)),
		})
		if err != nil {
			return err
		}
		// From here to the commit the live table is locked against
		// writes.
		locking()
		return execAll(ctx, tx, []string{
			"CREATE TRIGGER " + d.Quote(rowTrigger(n)) + " AFTER INSERT OR UPDATE OR DELETE ON " + live +
				" FOR EACH ROW EXECUTE FUNCTION " + fn,
			"CREATE TRIGGER " + d.Quote(truncateTrigger(n)) + " AFTER TRUNCATE ON " + live +
				" FOR EACH STATEMENT EXECUTE FUNCTION " + fn,
			// Writes of a session in session_replication_role = replica (a
			// logical replication subscription's, a restore's) too.
			"ALTER TABLE " + live + " ENABLE ALWAYS TRIGGER " + d.Quote(rowTrigger(n)) +
				", ENABLE ALWAYS TRIGGER " + d.Quote(truncateTrigger(n)),
		})
	})
}

// pgFunctionSettings are the trigger function's own settings: a
// search_path the application's cannot redirect the qualified names in
// it through, and floats written exactly (see keyChanged), whatever the
// application's session says.
const pgFunctionSettings = " SET search_path = pg_catalog, pg_temp SET extra_float_digits = 1"

// onlyFor is the start of a trigger function's body that refuses to run
// for another table than the live one, whose OID it reads in q: a
// SECURITY DEFINER function anyone could attach to a table of their own
// would write the shadow with the run's rights.
func (d postgresDialect) onlyFor(ctx context.Context, q database.Querier, n names) (string, error) {
	var oid uint32
	if err := q.QueryRowContext(ctx, "SELECT $1::regclass::oid", d.Qualify(n.schema, n.table)).Scan(&oid); err != nil {
		return "", fmt.Errorf("reading the OID of %s: %w", n.table, err)
	}
	return `
	IF TG_RELID <> ` + strconv.FormatUint(uint64(oid), 10) + ` THEN
		RAISE EXCEPTION 'kube-shift: this trigger function is for one table only';
	END IF;`, nil
}

// logBody is the trigger function during the copy: it logs the key of
// every row written (both keys of an update that changes the key), and a
// TRUNCATE as an entry of its own.
func (d postgresDialect) logBody(ctx context.Context, q database.Querier, n names, pk []string) (string, error) {
	guard, err := d.onlyFor(ctx, q, n)
	if err != nil {
		return "", err
	}
	log := d.Qualify(n.schema, logTable(n))
	_, truncate := logColumns(pk)
	into := "INSERT INTO " + log + " (" + d.list(pk) + ") VALUES "
	return `
BEGIN` + guard + `
	IF TG_OP = 'TRUNCATE' THEN
		INSERT INTO ` + log + ` (` + d.Quote(truncate) + `) VALUES (true);
		RETURN NULL;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		` + into + `(` + d.record(pk, "OLD") + `);
	END IF;
	IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' AND (` + d.keyChanged(pk) + `) THEN
		` + into + `(` + d.record(pk, "NEW") + `);
	END IF;
	RETURN NULL;
END`, nil
}

// keyChanged is true in an update trigger when the update changes the
// key, compared as text in the "C" collation: a key equal by its type's
// operator but written otherwise (numeric 1 and 1.00, a case-insensitive
// collation's 'A' and 'a') is a change the shadow must follow, and every
// type has a text form, where its = operator may live outside the
// function's search_path (floats are written exactly: see
// pgFunctionSettings).
func (d postgresDialect) keyChanged(pk []string) string {
	changed := make([]string, len(pk))
	for i, c := range pk {
		changed[i] = "OLD." + d.Quote(c) + `::text COLLATE "C" IS DISTINCT FROM NEW.` + d.Quote(c) + `::text COLLATE "C"`
	}
	return strings.Join(changed, " OR ")
}

// record lists the columns of trigger record rec.
func (d postgresDialect) record(columns []string, rec string) string {
	values := make([]string, len(columns))
	for i, c := range columns {
		values[i] = rec + "." + d.Quote(c)
	}
	return strings.Join(values, ", ")
}

// syncBody is the trigger function once the copy is done: a delete
// removes the row from the shadow, an insert or update upserts it (an
// update of the key first removes the row under its old key), a TRUNCATE
// empties the shadow.
//
// From the switch on the shadow holds a row for every row of the live
// table. A delete that finds none from a transaction whose snapshot
// (REPEATABLE READ or SERIALIZABLE) predates the switch's transaction
// may have missed a row the copy or a replay wrote after that snapshot:
// unseen, it would stay after the application deleted it. Such a delete
// fails as a serialization failure, which the application's transaction
// is written to retry, as PostgreSQL fails the upsert of a row the
// snapshot cannot see; retried, its snapshot sees the switch, and with it
// every row the run wrote. A snapshot that sees the switch finds nothing
// only where nothing is (the shadow's own ON DELETE CASCADE took the row
// first): nothing to fail for. The body is returned as a function of the
// switch's transaction ID, known only under its lock.
func (d postgresDialect) syncBody(ctx context.Context, q database.Querier, n names, pk, columns []string) (func(switchXid uint64) string, error) {
	guard, err := d.onlyFor(ctx, q, n)
	if err != nil {
		return nil, err
	}
	shadow := d.Qualify(n.schema, n.shadow)
	match, err := d.keyEquals(ctx, q, n, pk, "OLD")
	if err != nil {
		return nil, err
	}
	return func(switchXid uint64) string {
		remove := `DELETE FROM ` + shadow + ` WHERE ` + match + `;
		IF NOT FOUND AND NOT pg_visible_in_snapshot('` + strconv.FormatUint(switchXid, 10) + `'::xid8, pg_current_snapshot()) THEN
			RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
				MESSAGE = 'could not serialize access: kube-shift''s shadow of ' || TG_TABLE_NAME || ' holds a newer version of this row',
				HINT = 'The transaction''s snapshot predates it; retry the transaction.';
		END IF;`
		return `
BEGIN` + guard + `
	IF TG_OP = 'TRUNCATE' THEN
		TRUNCATE ` + shadow + `;
		RETURN NULL;
	END IF;
	IF TG_OP = 'DELETE' THEN
		` + remove + `
		RETURN NULL;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF ` + d.keyChanged(pk) + ` THEN
			` + remove + `
		END IF;
	END IF;
	INSERT INTO ` + shadow + ` (` + d.list(columns) + `) OVERRIDING SYSTEM VALUE
	VALUES (` + d.record(columns, "NEW") + `)
	` + d.onConflict(pk, columns, true) + `;
	RETURN NULL;
END`
	}, nil
}

// replay applies the log's entries to the shadow in tx and returns how
// many it applied: each logged key's row is deleted from the shadow and
// copied again from the live table, and the entries go. Run in one
// snapshot (REPEATABLE READ; under the switch's lock nothing commits
// meanwhile) with every entry it sees, it leaves the shadow as the live
// table was in that snapshot: a change committed later has an entry the
// next replay applies, and no unique constraint of the shadow sees a mix
// of two moments (applied a part of the log at a time, rows read as they
// are now could meet rows still as they were). An entry of
// a transaction not committed in the snapshot is neither applied nor
// removed, whatever its number. A TRUNCATE's entry ends the entries
// applied together: it empties the shadow, and the entries after it
// refill what the application wrote since.
func (d postgresDialect) replay(ctx context.Context, conn *sql.Conn, n names, pk, columns []string) (int, error) {
	var applied int
	rr := &sql.TxOptions{Isolation: sql.LevelRepeatableRead}
	err := withRetries(ctx, d, func() error {
		return inTx(ctx, conn, rr, func(tx *sql.Tx) error {
			var err error
			applied, err = d.applyLog(ctx, tx, n, pk, columns, func(context.Context) error { return nil })
			return err
		})
	})
	return applied, err
}

// applyLog is replay, calling arm before each of its statements: under
// the switch's lock, arm gives each what is left of the lock's budget.
func (d postgresDialect) applyLog(ctx context.Context, tx *sql.Tx, n names, pk, columns []string, arm func(context.Context) error) (int, error) {
	shadow, live, log := d.Qualify(n.schema, n.shadow), d.Qualify(n.schema, n.table), d.Qualify(n.schema, logTable(n))
	seqCol, truncCol := logColumns(pk)
	var first sql.NullInt64
	if err := arm(ctx); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, "SELECT min("+d.Quote(seqCol)+") FROM "+log+" WHERE "+d.Quote(truncCol)).Scan(&first); err != nil {
		return 0, fmt.Errorf("reading the log: %w", err)
	}
	// Up to a TRUNCATE, which empties the shadow: the rows of the keys
	// logged before it are gone.
	stmts := []string{"DELETE FROM " + shadow}
	if !first.Valid {
		keys := "(" + d.list(pk) + ") IN (SELECT " + d.list(pk) + " FROM " + log + ")"
		stmts = []string{
			"DELETE FROM " + shadow + " WHERE " + keys,
			"INSERT INTO " + shadow + " (" + d.list(columns) + ") OVERRIDING SYSTEM VALUE SELECT " + d.list(columns) +
				" FROM " + live + " WHERE " + keys,
		}
	}
	remove := "DELETE FROM " + log
	if first.Valid {
		remove += " WHERE " + d.Quote(seqCol) + " <= " + strconv.FormatInt(first.Int64, 10)
	}
	var res sql.Result
	for _, stmt := range append(stmts, remove) {
		if err := arm(ctx); err != nil {
			return 0, err
		}
		var err error
		if res, err = tx.ExecContext(ctx, stmt); err != nil {
			return 0, fmt.Errorf("applying the log: %s: %w", firstLine(stmt), err)
		}
	}
	applied, err := res.RowsAffected()
	return int(applied), err
}

// prepareSwitch returns the end of the log: under a lock that stops the
// application's writes (not its reads) it applies what is left of the
// log and turns the trigger function into the one that writes the
// shadow directly, in tx, which must be REPEATABLE READ (its snapshot
// taken after the lock). The function's body is read from the catalog
// in q first, outside the lock, which is held only for the log's rest
// and the function's replacement.
func (d postgresDialect) prepareSwitch(ctx context.Context, q database.Querier, n names, pk, columns []string, budget time.Duration) ([]func(context.Context, *sql.Tx, func()) error, error) {
	body, err := d.syncBody(ctx, q, n, pk, columns)
	if err != nil {
		return nil, err
	}
	return []func(context.Context, *sql.Tx, func()) error{func(ctx context.Context, tx *sql.Tx, locking func()) error {
		locking()
		if _, err := tx.ExecContext(ctx, "LOCK TABLE "+d.Qualify(n.schema, n.table)+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		var xid uint64
		if err := tx.QueryRowContext(ctx, "SELECT pg_catalog.pg_current_xact_id()::text::bigint").Scan(&xid); err != nil {
			return fmt.Errorf("reading the switch's transaction: %w", err)
		}
		// Each statement may take what is left of the budget
		// (statement_timeout cancels it server-side, and the rollback
		// ends the lock): an application writing faster than the rest
		// is applied does not hold its writes behind the switch.
		deadline := time.Now().Add(budget)
		arm := func(ctx context.Context) error {
			left := time.Until(deadline).Milliseconds()
			if left < 1 {
				return errOverLockBudget
			}
			_, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(left, 10))
			return err
		}
		for {
			applied, err := d.applyLog(ctx, tx, n, pk, columns, arm)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == pgQueryCanceled {
				return errors.Join(errOverLockBudget, err)
			}
			if err != nil {
				return err
			}
			if applied == 0 {
				break
			}
		}
		if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "CREATE OR REPLACE FUNCTION "+d.syncSignature(n)+" RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"+
			pgFunctionSettings+" AS "+dollarQuote(body(xid)))
		return err
	}}, nil
}

// compactLog vacuums the log, truncating its emptied end, which its own
// settings (vacuum_truncate = false) leave to this call: a log that held
// many entries during the copy keeps its pages otherwise, and every
// replay under the switch's lock would read them all. The truncation
// holds the log's lock only while nobody (the application's triggers)
// waits for it.
func (d postgresDialect) compactLog(ctx context.Context, q database.Querier, n names) error {
	_, err := q.ExecContext(ctx, "VACUUM (TRUNCATE true) "+d.Qualify(n.schema, logTable(n)))
	return err
}

// dropLog drops the log the switch ended, outside its lock: no trigger
// writes it any more.
func (d postgresDialect) dropLog(ctx context.Context, q database.Querier, n names) error {
	_, err := q.ExecContext(ctx, "DROP TABLE "+d.Qualify(n.schema, logTable(n)))
	return err
}

// keyEquals matches the shadow's row with the key of record rec, by the
// equality of the shadow's primary key index, read in q, so that the
// index finds the row. An operator outside pg_catalog (an extension's
// type: citext, ltree) is named with its schema, and both sides cast to
// its own input type, qualified: the function's search_path holds
// pg_catalog alone, where a bare = would not resolve, or would resolve
// to another type's operator (text's, for citext) that the index cannot
// use; and an operator of the column's own type (a domain's) that
// someone added beside the extension's would match the domain exactly,
// and run with the run's rights.
func (d postgresDialect) keyEquals(ctx context.Context, q database.Querier, n names, pk []string, rec string) (string, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT a.attname, o.oprnamespace <> 'pg_catalog'::regnamespace AND t.typtype <> 'p',
			format('OPERATOR(%I.%s)', opn.nspname, o.oprname), format('%I.%I', tn.nspname, t.typname)
		FROM pg_catalog.pg_index i
		CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[]) AS k(attnum, opclass)
		JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		JOIN pg_catalog.pg_opclass c ON c.oid = k.opclass
		JOIN pg_catalog.pg_type t ON t.oid = c.opcintype
		JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
		JOIN pg_catalog.pg_amop ao ON ao.amopfamily = c.opcfamily AND ao.amopstrategy = 3
			AND ao.amoplefttype = c.opcintype AND ao.amoprighttype = c.opcintype
		JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
		JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
		WHERE i.indrelid = $1::regclass AND i.indisprimary`, d.Qualify(n.schema, n.shadow))
	if err != nil {
		return "", fmt.Errorf("reading the shadow's key operators: %w", err)
	}
	defer func() { _ = rows.Close() }()
	qualified := map[string][2]string{}
	for rows.Next() {
		var column, operator, typ string
		var outside bool
		if err := rows.Scan(&column, &outside, &operator, &typ); err != nil {
			return "", fmt.Errorf("reading the shadow's key operators: %w", err)
		}
		if outside {
			qualified[column] = [2]string{operator, typ}
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("reading the shadow's key operators: %w", err)
	}
	parts := make([]string, len(pk))
	for i, c := range pk {
		parts[i] = d.Quote(c) + " = " + rec + "." + d.Quote(c)
		if op, ok := qualified[c]; ok {
			parts[i] = d.Quote(c) + "::" + op[1] + " " + op[0] + " " + rec + "." + d.Quote(c) + "::" + op[1]
		}
	}
	return strings.Join(parts, " AND "), nil
}

// onConflict handles a row already in the shadow: the triggers overwrite
// it (theirs is the newer version), the copy leaves it. The conflict
// target is the key alone, so that a row breaking another unique
// constraint of the new definition fails loudly instead of vanishing.
func (d postgresDialect) onConflict(pk, columns []string, overwrite bool) string {
	clause := "ON CONFLICT (" + d.list(pk) + ") DO NOTHING"
	var set []string
	for _, c := range columns {
		if !slices.Contains(pk, c) {
			set = append(set, d.Quote(c)+" = EXCLUDED."+d.Quote(c))
		}
	}
	if overwrite && len(set) > 0 {
		clause = "ON CONFLICT (" + d.list(pk) + ") DO UPDATE SET " + strings.Join(set, ", ")
	}
	return clause
}

// dollarQuote quotes a function body with a tag the body does not hold.
func dollarQuote(body string) string {
	tag := "$kube_shift$"
	for i := 2; strings.Contains(body, tag); i++ {
		tag = "$kube_shift" + strconv.Itoa(i) + "$"
	}
	return tag + body + tag
}

func (d postgresDialect) dropTriggers(ctx context.Context, q database.Querier, n names) error {
	live := d.Qualify(n.schema, n.table)
	triggers, err := database.QueryStrings(ctx, q, `
		SELECT tgname FROM pg_catalog.pg_trigger
		WHERE tgrelid = to_regclass($1) AND tgfoid = (`+pgOurFunction(2, 3)+`)`,
		live, d.syncSignature(n), syncMarker(n))
	if err != nil {
		return fmt.Errorf("finding the sync triggers on %s: %w", live, err)
	}
	var stmts []string
	for _, t := range triggers {
		stmts = append(stmts, "DROP TRIGGER "+d.Quote(t)+" ON "+live)
	}
	var ours bool
	if err := q.QueryRowContext(ctx, "SELECT EXISTS ("+pgOurFunction(1, 2)+")", d.syncSignature(n), syncMarker(n)).Scan(&ours); err != nil {
		return fmt.Errorf("finding the sync function of %s: %w", live, err)
	}
	if ours {
		stmts = append(stmts, "DROP FUNCTION "+d.syncSignature(n))
	}
	var ourLog bool
	if err := q.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = $1 AND c.relname = $2 AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') = $3)`,
		n.schema, logTable(n), logMarker(n)).Scan(&ourLog); err != nil {
		return fmt.Errorf("finding the log of %s: %w", live, err)
	}
	if ourLog {
		stmts = append(stmts, "DROP TABLE "+d.Qualify(n.schema, logTable(n)))
	}
	return execAll(ctx, q, stmts)
}

func (d postgresDialect) keyRange(pk []string, after, upTo []any) (string, []any) {
	var conds []string
	var args []any
	tuple := d.list(pk)
	if len(pk) > 1 {
		tuple = "(" + tuple + ")"
	}
	bound := func(op string, vals []any) {
		ph := make([]string, len(vals))
		for i := range vals {
			ph[i] = "$" + strconv.Itoa(len(args)+i+1)
		}
		p := strings.Join(ph, ", ")
		if len(pk) > 1 {
			p = "(" + p + ")"
		}
		conds = append(conds, tuple+" "+op+" "+p)
		args = append(args, vals...)
	}
	if after != nil {
		bound(">", after)
	}
	if upTo != nil {
		bound("<=", upTo)
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), args
}

// beginBatch turns off waiting for the batch's commit to reach the disk:
// were the server to crash, the run would fail with it and a new run
// start over, so a lost batch costs nothing. Nothing else is needed: the
// application's writes reach the log, not the shadow, while the copy
// runs.
func (postgresDialect) beginBatch(ctx context.Context, tx *sql.Tx, _ names, _ int, _ time.Duration) error {
	_, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off")
	return err
}

// deferIndexes defers every index of the shadow, those of its primary
// key and other constraints included: until the log is replayed for the
// last time only the run writes the shadow (the application's writes go
// to the log), so each index is built once, sorted, by a plain CREATE
// INDEX or ADD CONSTRAINT; unique and exclusion ones once the shadow
// holds the rows of one moment (see catchUp). Definitions come back from
// pg_get_indexdef and pg_get_constraintdef, with their comments; neither
// names the index's tablespace, which the build then takes from
// default_tablespace, as pg_dump's output does.
func (d postgresDialect) deferIndexes(ctx context.Context, q database.Querier, n names) ([]deferredIndex, error) {
	shadow := d.Qualify(n.schema, n.shadow)
	rows, err := q.QueryContext(ctx, `
		SELECT ic.relname, pg_get_indexdef(i.indexrelid), COALESCE(obj_description(i.indexrelid, 'pg_class'), ''),
			COALESCE(con.conname, ''), COALESCE(pg_get_constraintdef(con.oid), ''),
			COALESCE(obj_description(con.oid, 'pg_constraint'), ''),
			NOT i.indisprimary AND (i.indisunique OR i.indisexclusion), COALESCE(ts.spcname, '')
		FROM pg_catalog.pg_index i
		JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace
		LEFT JOIN pg_catalog.pg_constraint con
			ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
		WHERE i.indrelid = $1::regclass
		ORDER BY ic.relname`, shadow)
	if err != nil {
		return nil, fmt.Errorf("reading the indexes of %s: %w", n.shadow, err)
	}
	var out []deferredIndex
	var drops []string
	for rows.Next() {
		var name, def, comment, con, condef, conComment, tablespace string
		var unique bool
		if err := rows.Scan(&name, &def, &comment, &con, &condef, &conComment, &unique, &tablespace); err != nil {
			_ = rows.Close()
			return nil, err
		}
		idx := deferredIndex{name: name, create: []string{def}}
		if unique {
			idx.stage = afterReplay
		}
		if con == "" {
			drops = append(drops, "DROP INDEX "+d.Qualify(n.schema, name))
		} else {
			drops = append(drops, "ALTER TABLE "+shadow+" DROP CONSTRAINT "+d.Quote(con))
			idx.create = []string{"ALTER TABLE " + shadow + " ADD CONSTRAINT " + d.Quote(con) + " " + condef}
			if conComment != "" {
				idx.create = append(idx.create, "COMMENT ON CONSTRAINT "+d.Quote(con)+" ON "+shadow+" IS "+pgLiteral(conComment))
			}
		}
		if comment != "" {
			idx.create = append(idx.create, "COMMENT ON INDEX "+d.Qualify(n.schema, name)+" IS "+pgLiteral(comment))
		}
		if tablespace != "" {
			idx.create = append(append([]string{"SET default_tablespace = " + pgLiteral(tablespace)}, idx.create...),
				"RESET default_tablespace")
		}
		out = append(out, idx)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	keys, err := d.foreignKeys(ctx, q, n.shadow, n)
	if err != nil {
		return nil, err
	}
	// The foreign keys first: one of the table's own may need its key.
	fkDrops := make([]string, 0, len(keys)+len(drops))
	for _, fk := range keys {
		fkDrops = append(fkDrops, "ALTER TABLE "+shadow+" DROP CONSTRAINT "+d.Quote(fk.name))
	}
	if err := execAll(ctx, q, append(fkDrops, drops...)); err != nil {
		return nil, fmt.Errorf("dropping the indexes of %s until the copy is done: %w", n.shadow, err)
	}
	return append(out, keys...), nil
}

// foreignKeys are the foreign keys of table (of n's schema) as statements
// adding them to n's shadow, NOT VALID, and validating those table has
// valid: the validation's scan stops neither the shadow's writes nor the
// referenced table's.
func (d postgresDialect) foreignKeys(ctx context.Context, q database.Querier, table string, n names) ([]deferredIndex, error) {
	shadow := d.Qualify(n.schema, n.shadow)
	rows, err := q.QueryContext(ctx, `
		SELECT conname, regexp_replace(pg_get_constraintdef(oid), ' NOT VALID$', ''), convalidated,
			COALESCE(obj_description(oid, 'pg_constraint'), '')
		FROM pg_catalog.pg_constraint
		WHERE conrelid = $1::regclass AND contype = 'f'
		ORDER BY conname`, d.Qualify(n.schema, table))
	if err != nil {
		return nil, fmt.Errorf("reading the foreign keys of %s: %w", table, err)
	}
	var out []deferredIndex
	for rows.Next() {
		var name, def, comment string
		var valid bool
		if err := rows.Scan(&name, &def, &valid, &comment); err != nil {
			_ = rows.Close()
			return nil, err
		}
		fk := deferredIndex{name: name, stage: afterSwitch,
			create: []string{"ALTER TABLE " + shadow + " ADD CONSTRAINT " + d.Quote(name) + " " + def + " NOT VALID"}}
		if comment != "" {
			fk.create = append(fk.create, "COMMENT ON CONSTRAINT "+d.Quote(name)+" ON "+shadow+" IS "+pgLiteral(comment))
		}
		if valid {
			fk.then = []string{"ALTER TABLE " + shadow + " VALIDATE CONSTRAINT " + d.Quote(name)}
		}
		out = append(out, fk)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// buildIndexes builds each index in turn (PostgreSQL builds one per
// statement). Nothing else writes the shadow yet: no CONCURRENTLY, whose
// second pass over the table cost as much as the build. A build that
// fails leaves the shadow without the index, which the run's clean-up
// drops with it.
func (d postgresDialect) buildIndexes(ctx context.Context, conn *sql.Conn, _ names, idx []deferredIndex) error {
	for _, i := range idx {
		if err := execAll(ctx, conn, i.create); err != nil {
			return fmt.Errorf("building index %s: %w", i.name, err)
		}
	}
	return nil
}

// replicationLag is the longest lag pg_stat_replication shows: the time
// the slowest standby takes to write, flush and replay what the server
// committed. A role without pg_read_all_stats sees no lag columns: 0.
func (postgresDialect) replicationLag(ctx context.Context, q database.Querier) (time.Duration, error) {
	var secs float64
	err := q.QueryRowContext(ctx, `
		SELECT COALESCE(EXTRACT(epoch FROM max(GREATEST(write_lag, flush_lag, replay_lag))), 0)::float8
		FROM pg_catalog.pg_stat_replication`).Scan(&secs)
	return time.Duration(secs * float64(time.Second)), err
}

// copyRows reads the live rows without locking them: beginBatch's sync
// lock keeps deletes out while the batch runs, and a row updated after
// the statement's snapshot was upserted by its trigger, which the batch
// either excludes or, with keepExisting, leaves as it is (ON CONFLICT
// waits for the update's transaction when it has not committed yet).
// Measured on 1,000,000 rows, ON CONFLICT doubles the copy's time.
func (d postgresDialect) copyRows(n names, pk, columns []string, where string, _, keepExisting bool) string {
	cols := d.list(columns)
	stmt := "INSERT INTO " + d.Qualify(n.schema, n.shadow) + " (" + cols + ") OVERRIDING SYSTEM VALUE" +
		" SELECT " + cols + " FROM " + d.Qualify(n.schema, n.table) + " WHERE " + where
	if keepExisting {
		stmt += " " + d.onConflict(pk, columns, false)
	}
	return stmt
}

func (d postgresDialect) keyNotIn(pk []string, keys [][]any, firstArg int) (string, []any) {
	return keyNotIn(d.Quote, pk, keys, func(i int) string { return "$" + strconv.Itoa(firstArg+i) })
}

func (postgresDialect) duplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation
}

// swap exchanges the tables in one transaction under an ACCESS EXCLUSIVE
// lock. Besides the renames it hands over what PostgreSQL names
// schema-wide or binds to the old table: index (and so constraint) names
// go to the incoming table's matching indexes, sequences keep serving the
// key, the sync triggers go.
func (d postgresDialect) swap(ctx context.Context, conn *sql.Conn, s swapSpec) (time.Duration, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	live, incoming := d.Qualify(s.n.schema, s.live), d.Qualify(s.n.schema, s.incoming)
	start := time.Now()
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+live+", "+incoming+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return 0, fmt.Errorf("locking %s: %w", live, err)
	}
	steps := []func(context.Context, *sql.Tx, swapSpec) error{
		func(ctx context.Context, tx *sql.Tx, s swapSpec) error { return d.dropTriggers(ctx, tx, s.n) },
		d.handOverSequences,
		d.handOverIndexes,
		d.renameTables,
	}
	for _, step := range steps {
		if err := step(ctx, tx, s); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing the swap: %w", err)
	}
	return time.Since(start), nil
}

// renameTables moves live aside and incoming into its place, each with
// the comment its new role calls for.
func (d postgresDialect) renameTables(ctx context.Context, tx *sql.Tx, s swapSpec) error {
	stmts := []string{
		"ALTER TABLE " + d.Qualify(s.n.schema, s.live) + " RENAME TO " + d.Quote(s.aside),
		"ALTER TABLE " + d.Qualify(s.n.schema, s.incoming) + " RENAME TO " + d.Quote(s.live),
	}
	if err := execAll(ctx, tx, stmts); err != nil {
		return err
	}
	if err := d.setComment(ctx, tx, s.n.schema, s.live, s.incomingComment); err != nil {
		return err
	}
	return d.setComment(ctx, tx, s.n.schema, s.aside, mark(s.asideRole, s.n.table, s.liveComment))
}

// sequence is a sequence a table owns, through a serial column's OWNED BY
// ('a') or an identity column ('i').
type sequence struct {
	name    string
	deptype string
}

// ownedSequences maps a table's columns to the sequences it owns.
func (d postgresDialect) ownedSequences(ctx context.Context, q database.Querier, rel string) (map[string]sequence, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT a.attname, s.relname, dep.deptype::text
		FROM pg_catalog.pg_depend dep
		JOIN pg_catalog.pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
		JOIN pg_catalog.pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
		WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.refclassid = 'pg_catalog.pg_class'::regclass
		  AND dep.refobjid = $1::regclass AND dep.deptype IN ('a', 'i')`, rel)
	if err != nil {
		return nil, fmt.Errorf("reading the sequences of %s: %w", rel, err)
	}
	defer func() { _ = rows.Close() }()
	seqs := map[string]sequence{}
	for rows.Next() {
		var col string
		var s sequence
		if err := rows.Scan(&col, &s.name, &s.deptype); err != nil {
			return nil, err
		}
		seqs[col] = s
	}
	return seqs, rows.Err()
}

// handOverSequences keeps the key's numbering going after the swap. When
// the incoming column has a sequence of its own (an identity, a new
// serial), it continues where the live one stopped and takes its name;
// when it draws from the live table's serial sequence (a LIKE copy's
// default does), that sequence becomes its own, so dropping the old table
// later does not drop it.
func (d postgresDialect) handOverSequences(ctx context.Context, tx *sql.Tx, s swapSpec) error {
	live, incoming := d.Qualify(s.n.schema, s.live), d.Qualify(s.n.schema, s.incoming)
	liveSeqs, err := d.ownedSequences(ctx, tx, live)
	if err != nil {
		return err
	}
	incomingSeqs, err := d.ownedSequences(ctx, tx, incoming)
	if err != nil {
		return err
	}
	for col, ls := range liveSeqs {
		if is, ok := incomingSeqs[col]; ok {
			if err := d.continueSequence(ctx, tx, s, ls, is); err != nil {
				return err
			}
			continue
		}
		if ls.deptype != "a" {
			continue
		}
		lsq := d.Qualify(s.n.schema, ls.name)
		var uses bool
		if err := tx.QueryRowContext(ctx, `
			SELECT EXISTS (
				SELECT 1 FROM pg_catalog.pg_attrdef ad
				JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
				JOIN pg_catalog.pg_depend dep ON dep.classid = 'pg_catalog.pg_attrdef'::regclass AND dep.objid = ad.oid
				WHERE ad.adrelid = $1::regclass AND a.attname = $2
				  AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.refobjid = $3::regclass)`,
			incoming, col, lsq).Scan(&uses); err != nil {
			return fmt.Errorf("reading the default of %s.%s: %w", incoming, col, err)
		}
		if uses {
			if _, err := tx.ExecContext(ctx, "ALTER SEQUENCE "+lsq+" OWNED BY "+incoming+"."+d.Quote(col)); err != nil {
				return fmt.Errorf("handing sequence %s over to %s: %w", lsq, incoming, err)
			}
		}
	}
	return nil
}

// continueSequence sets the incoming sequence to where the live one is
// and gives it the live one's name.
func (d postgresDialect) continueSequence(ctx context.Context, tx *sql.Tx, s swapSpec, live, incoming sequence) error {
	lsq, isq := d.Qualify(s.n.schema, live.name), d.Qualify(s.n.schema, incoming.name)
	if _, err := tx.ExecContext(ctx, "SELECT setval($1::regclass, last_value, is_called) FROM "+lsq, isq); err != nil {
		return fmt.Errorf("continuing sequence %s from %s: %w", isq, lsq, err)
	}
	if err := d.moveAside(ctx, tx, s, "SEQUENCE", live.name); err != nil {
		return err
	}
	return d.rename(ctx, tx, s.n.schema, "SEQUENCE", incoming.name, live.name)
}

// moveAside renames a live table's index or sequence to a decorated name,
// freeing its name for the incoming table's counterpart.
func (d postgresDialect) moveAside(ctx context.Context, tx *sql.Tx, s swapSpec, kind, name string) error {
	aside, err := d.freeName(ctx, tx, s.n.schema, decorate(name, s.asideSuffix(), d.IdentLimit()))
	if err != nil {
		return err
	}
	return d.rename(ctx, tx, s.n.schema, kind, name, aside)
}

// rename renames a relation of schema.
func (d postgresDialect) rename(ctx context.Context, tx *sql.Tx, schema, kind, from, to string) error {
	if _, err := tx.ExecContext(ctx, "ALTER "+kind+" "+d.Qualify(schema, from)+" RENAME TO "+d.Quote(to)); err != nil {
		return fmt.Errorf("renaming %s %s to %s: %w", strings.ToLower(kind), from, to, err)
	}
	return nil
}

// freeName returns want, or a variant of it no relation of schema holds.
func (d postgresDialect) freeName(ctx context.Context, q database.Querier, schema, want string) (string, error) {
	name := want
	for i := 2; ; i++ {
		taken, err := d.taken(ctx, q, schema, name)
		if err != nil || !taken {
			return name, err
		}
		name = decorate(want, "_"+strconv.Itoa(i), d.IdentLimit())[1:]
	}
}

// taken reports whether a relation of schema has the name.
func (d postgresDialect) taken(ctx context.Context, q database.Querier, schema, name string) (bool, error) {
	var taken bool
	err := q.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", d.Qualify(schema, name)).Scan(&taken)
	return taken, err
}

// index is an index of a table and what makes two indexes the same
// whatever their names and tables.
type index struct {
	name string
	key  string
}

// indexes lists a table's indexes.
func (d postgresDialect) indexes(ctx context.Context, q database.Querier, rel string) ([]index, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT ic.relname, pg_get_indexdef(i.indexrelid), COALESCE(con.contype::text, '')
		FROM pg_catalog.pg_index i
		JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_catalog.pg_constraint con
			ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
		WHERE i.indrelid = $1::regclass
		ORDER BY ic.relname`, rel)
	if err != nil {
		return nil, fmt.Errorf("reading the indexes of %s: %w", rel, err)
	}
	defer func() { _ = rows.Close() }()
	var out []index
	for rows.Next() {
		var name, def, contype string
		if err := rows.Scan(&name, &def, &contype); err != nil {
			return nil, err
		}
		out = append(out, index{name: name, key: indexKey(def, contype)})
	}
	return out, rows.Err()
}

// indexKey is an index definition without its name and table: "CREATE
// UNIQUE INDEX t_pkey ON public.t USING btree (id)" and the shadow's
// "CREATE UNIQUE INDEX _t_new_pkey ON public._t_new USING btree (id)"
// are the same index. The constraint type tells a primary key from a
// unique constraint from a bare unique index.
func indexKey(def, contype string) string {
	unique := strings.HasPrefix(def, "CREATE UNIQUE ")
	_, tail, _ := strings.Cut(def, " USING ")
	return fmt.Sprintf("%s|%t|%s", contype, unique, tail)
}

// handOverIndexes gives the incoming table's indexes the live table's
// names (renaming an index renames its constraint), matching them by
// definition; the live ones all move to decorated names, so none keeps a
// name the new table may want later. An incoming index with no live
// counterpart sheds the decoration its table's name gave it.
func (d postgresDialect) handOverIndexes(ctx context.Context, tx *sql.Tx, s swapSpec) error {
	liveIdx, err := d.indexes(ctx, tx, d.Qualify(s.n.schema, s.live))
	if err != nil {
		return err
	}
	incomingIdx, err := d.indexes(ctx, tx, d.Qualify(s.n.schema, s.incoming))
	if err != nil {
		return err
	}
	for _, l := range liveIdx {
		if err := d.moveAside(ctx, tx, s, "INDEX", l.name); err != nil {
			return err
		}
	}
	claimed := map[string]bool{}
	for _, in := range incomingIdx {
		if match := matchIndex(liveIdx, in, claimed); match != "" {
			if err := d.rename(ctx, tx, s.n.schema, "INDEX", in.name, match); err != nil {
				return err
			}
			continue
		}
		if err := d.restoreName(ctx, tx, s, in.name); err != nil {
			return err
		}
	}
	return nil
}

// matchIndex finds the first live index not yet claimed with in's
// definition, and claims it.
func matchIndex(live []index, in index, claimed map[string]bool) string {
	for _, l := range live {
		if !claimed[l.name] && l.key == in.key {
			claimed[l.name] = true
			return l.name
		}
	}
	return ""
}

// restoreName renames an incoming index named after its table's set-aside
// name ("_t_new_email_idx", "_t_email_idx_old") to the name it would have
// on the live table, when that name is free.
func (d postgresDialect) restoreName(ctx context.Context, tx *sql.Tx, s swapSpec, name string) error {
	want, ok := strings.CutPrefix(name, s.incoming)
	if ok {
		want = s.live + want
	} else if want, ok = undecorate(name, s.incomingSuffix()); !ok {
		return nil
	}
	taken, err := d.taken(ctx, tx, s.n.schema, want)
	if err != nil || taken || len(want) > d.IdentLimit() {
		return err
	}
	return d.rename(ctx, tx, s.n.schema, "INDEX", name, want)
}

// settle refreshes the planner's statistics of the new table, which start
// empty; ANALYZE does not block reads or writes.
func (d postgresDialect) settle(ctx context.Context, q database.Querier, s swapSpec) error {
	_, err := q.ExecContext(ctx, "ANALYZE "+d.Qualify(s.n.schema, s.live))
	return err
}

// logsWrites: always (see dialect).
func (postgresDialect) logsWrites(context.Context, database.Querier, names) (bool, error) {
	return true, nil
}

// logTables: the log alone.
func (postgresDialect) logTables(n names) []logTableName {
	return []logTableName{{logTable(n), logMarker(n)}}
}

// drainLog has nothing to do: the switch applied the whole log under its
// lock.
func (postgresDialect) drainLog(context.Context, *sql.Conn, names, []string, []string) error {
	return nil
}

func (postgresDialect) retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case pgDeadlock, pgSerialization, pgLockNotAvailable:
		return true
	}
	return false
}

// list quotes and joins column names.
func (d postgresDialect) list(cols []string) string { return quoteList(d.Quote, cols) }

// copyTable copies the table comment too, which INCLUDING ALL leaves out
// (it covers the comments of columns, constraints and indexes only).
func (postgresDialect) copyTable(shadow, live string) []string {
	return []string{
		"CREATE TABLE " + shadow + " (LIKE " + live + " INCLUDING ALL)",
		"DO " + dollarQuote(`BEGIN
	EXECUTE format('COMMENT ON TABLE %s IS %L', `+pgLiteral(shadow)+`, obj_description(`+pgLiteral(live)+`::regclass, 'pg_class'));
END`),
	}
}
