package bluegreen

import (
	"context"
	"fmt"
	"strconv"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// pgExtras is what PostgreSQL tables need that Atlas's open-source driver
// does not carry: the extensions whose types and functions they use, and
// the sequences behind their serial and identity columns, with the values
// those have reached.
type pgExtras struct {
	// catalog quotes names.
	catalog    database.Catalog
	schema     string
	extensions []pgExtension
	// members are relations of the schema an extension owns (PostGIS's
	// spatial_ref_sys, say): the extension creates them in green.
	members   []string
	sequences []pgSequence
	// defaults are the nextval defaults of the schema's columns, as the
	// server prints them.
	defaults map[columnKey]string
}

// columnKey names a column of the schema.
type columnKey struct{ table, column string }

type pgExtension struct{ name, schema, version string }

// pgSequence is a sequence of the schema: its definition, its owner and
// the value it has reached.
type pgSequence struct {
	name, typ                         string
	start, min, max, increment, cache int64
	cycle                             bool
	// table and column own the sequence (serial or identity); empty for a
	// sequence of its own.
	table, column string
	// identity: the sequence is an identity column's, which the column
	// creates in green.
	identity bool
	// last and called are the sequence's state, as setval takes it.
	last   int64
	called bool
}

const pgExtensionsQuery = `
SELECT e.extname, n.nspname, e.extversion
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.oid`

const pgMembersQuery = `
SELECT c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_depend e ON e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e'
WHERE n.nspname = $1`

// pgSequencesQuery lists the schema's sequences (but an extension's) with
// the column owning each: deptype 'a' for serial (OWNED BY), 'i' for an
// identity column.
const pgSequencesQuery = `
SELECT c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqmin, s.seqmax, s.seqincrement, s.seqcache, s.seqcycle,
	COALESCE(t.relname, ''), COALESCE(a.attname, ''), COALESCE(d.deptype = 'i', false)
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
	AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid AND t.relnamespace = n.oid
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE n.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
ORDER BY c.relname`

const pgNextvalDefaultsQuery = `
SELECT c.relname, a.attname, pg_catalog.pg_get_expr(d.adbin, d.adrelid)
FROM pg_catalog.pg_attrdef d
JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE n.nspname = $1 AND pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'`

func (d postgresDialect) readExtras(ctx context.Context, q database.Querier, schemaName string) (extras, error) {
	x := &pgExtras{catalog: d.Catalog, schema: schemaName}
	var err error
	if x.extensions, err = readExtensions(ctx, q); err != nil {
		return nil, fmt.Errorf("reading extensions: %w", err)
	}
	if x.members, err = database.QueryStrings(ctx, q, pgMembersQuery, schemaName); err != nil {
		return nil, fmt.Errorf("reading extensions' tables: %w", err)
	}
	if x.sequences, err = readSequences(ctx, q, d, schemaName); err != nil {
		return nil, err
	}
	if x.defaults, err = readNextvalDefaults(ctx, q, schemaName); err != nil {
		return nil, fmt.Errorf("reading column defaults: %w", err)
	}
	return x, nil
}

func readExtensions(ctx context.Context, q database.Querier) ([]pgExtension, error) {
	rows, err := q.QueryContext(ctx, pgExtensionsQuery)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var exts []pgExtension
	for rows.Next() {
		var e pgExtension
		if err := rows.Scan(&e.name, &e.schema, &e.version); err != nil {
			return nil, err
		}
		exts = append(exts, e)
	}
	return exts, rows.Err()
}

// readSequences reads the schema's sequences, then each one's state.
// Sequences are not transactional: the state read is the latest, which may
// be past the snapshot's, and so is safe to continue from.
func readSequences(ctx context.Context, q database.Querier, c database.Catalog, schemaName string) ([]pgSequence, error) {
	seqs, err := listSequences(ctx, q, schemaName)
	if err != nil {
		return nil, fmt.Errorf("reading sequences: %w", err)
	}
	for i := range seqs {
		s := &seqs[i]
		err := q.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+c.Qualify(schemaName, s.name)).Scan(&s.last, &s.called)
		if err != nil {
			return nil, fmt.Errorf("reading sequence %s: %w", s.name, err)
		}
	}
	return seqs, nil
}

func listSequences(ctx context.Context, q database.Querier, schemaName string) ([]pgSequence, error) {
	rows, err := q.QueryContext(ctx, pgSequencesQuery, schemaName)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var seqs []pgSequence
	for rows.Next() {
		var s pgSequence
		err := rows.Scan(&s.name, &s.typ, &s.start, &s.min, &s.max, &s.increment, &s.cache, &s.cycle, &s.table, &s.column, &s.identity)
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, s)
	}
	return seqs, rows.Err()
}

func readNextvalDefaults(ctx context.Context, q database.Querier, schemaName string) (map[columnKey]string, error) {
	rows, err := q.QueryContext(ctx, pgNextvalDefaultsQuery, schemaName)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	defaults := map[columnKey]string{}
	for rows.Next() {
		var k columnKey
		var def string
		if err := rows.Scan(&k.table, &k.column, &def); err != nil {
			return nil, err
		}
		defaults[k] = def
	}
	return defaults, rows.Err()
}

func (x *pgExtras) excluded() []string { return x.members }

// beforeTables creates the schema, the extensions (in blue's order, which
// puts an extension after those it requires) and every sequence but
// identity columns' own, so that column defaults find theirs.
func (x *pgExtras) beforeTables(ctx context.Context, green database.Querier) error {
	if err := x.ensureSchema(ctx, green, x.schema); err != nil {
		return err
	}
	for _, e := range x.extensions {
		if err := x.ensureSchema(ctx, green, e.schema); err != nil {
			return err
		}
		create := "CREATE EXTENSION IF NOT EXISTS " + x.catalog.Quote(e.name) + " WITH SCHEMA " + x.catalog.Quote(e.schema) + " VERSION " + pgLiteral(e.version)
		if _, err := green.ExecContext(ctx, create); err != nil {
			return fmt.Errorf("creating extension %s: %w", e.name, err)
		}
	}
	for _, s := range x.sequences {
		if s.identity {
			continue
		}
		create := "CREATE SEQUENCE " + x.catalog.Qualify(x.schema, s.name) + " AS " + s.typ + s.options()
		if _, err := green.ExecContext(ctx, create); err != nil {
			return fmt.Errorf("creating sequence %s: %w", s.name, err)
		}
	}
	return nil
}

// ensureSchema creates a schema green lacks. It looks first: CREATE
// SCHEMA IF NOT EXISTS still refuses a system name such as pg_catalog, and
// needs a privilege that an existing schema does not.
func (x *pgExtras) ensureSchema(ctx context.Context, green database.Querier, name string) error {
	var n int
	if err := green.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_catalog.pg_namespace WHERE nspname = $1", name).Scan(&n); err != nil || n > 0 {
		return err
	}
	if _, err := green.ExecContext(ctx, "CREATE SCHEMA "+x.catalog.Quote(name)); err != nil {
		return fmt.Errorf("creating schema %s: %w", name, err)
	}
	return nil
}

// options are the sequence's options as CREATE and ALTER SEQUENCE take
// them, with a leading space.
func (s pgSequence) options() string {
	cycle := " NO CYCLE"
	if s.cycle {
		cycle = " CYCLE"
	}
	return " INCREMENT BY " + strconv.FormatInt(s.increment, 10) +
		" MINVALUE " + strconv.FormatInt(s.min, 10) +
		" MAXVALUE " + strconv.FormatInt(s.max, 10) +
		" START WITH " + strconv.FormatInt(s.start, 10) +
		" CACHE " + strconv.FormatInt(s.cache, 10) + cycle
}

// column turns what Atlas inspected as a serial column back into an
// integer column with blue's own nextval default. Creating it as serial
// would make a new sequence with the server's choice of name and options,
// and Atlas calls serial any column whose default calls nextval on a
// sequence named like one, owned by it or not; the sequence itself was
// created by beforeTables.
func (x *pgExtras) column(t *schema.Table, c *schema.Column) *schema.Column {
	st, ok := c.Type.Type.(*postgres.SerialType)
	if !ok {
		return c
	}
	def, ok := x.defaults[columnKey{t.Name, c.Name}]
	if !ok {
		def = "nextval(" + pgLiteral(x.catalog.Qualify(x.schema, st.SequenceName)) + "::regclass)"
	}
	it := st.IntegerType()
	plain := *c
	plain.Type = &schema.ColumnType{Type: it, Raw: it.T, Null: c.Type.Null}
	plain.Default = &schema.RawExpr{X: def}
	return &plain
}

// afterRows gives every sequence its owner and blue's options and state.
// An identity column's sequence is found through its column: the server
// named it when the column was created.
func (x *pgExtras) afterRows(ctx context.Context, green database.Querier) error {
	for _, s := range x.sequences {
		if err := x.settle(ctx, green, s); err != nil {
			return fmt.Errorf("sequence %s: %w", s.name, err)
		}
	}
	return nil
}

func (x *pgExtras) settle(ctx context.Context, green database.Querier, s pgSequence) error {
	name := x.catalog.Qualify(x.schema, s.name)
	switch {
	case s.identity:
		err := green.QueryRowContext(ctx, "SELECT pg_catalog.pg_get_serial_sequence($1, $2)", x.catalog.Qualify(x.schema, s.table), s.column).Scan(&name)
		if err != nil {
			return err
		}
		if _, err := green.ExecContext(ctx, "ALTER SEQUENCE "+name+s.options()); err != nil {
			return err
		}
	case s.table != "":
		if _, err := green.ExecContext(ctx, "ALTER SEQUENCE "+name+" OWNED BY "+x.catalog.Qualify(x.schema, s.table)+"."+x.catalog.Quote(s.column)); err != nil {
			return err
		}
	}
	_, err := green.ExecContext(ctx, "SELECT pg_catalog.setval($1::regclass, $2, $3)", name, s.last, s.called)
	return err
}
