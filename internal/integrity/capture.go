package integrity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// recheckName names Recheck's comparison in its errors.
const recheckName = "data integrity check"

// errNoCapture is a comparison called without the capture to compare
// with: a bug in the caller, not a difference in the data.
var errNoCapture = errors.New("no earlier capture to compare with")

// Capture measures tables of schema on q: each table's columns, primary
// key and exact row count and, with opts.Checksum, the checksum of its
// sampled rows. No tables means every base table of the schema except
// kube-shift's revision table. Tables in opts.Exclude are skipped. q may be
// a transaction: Capture only reads.
func Capture(ctx context.Context, e database.Engine, q database.Querier, schema string, tables []string, opts Options) (*State, error) {
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	d, layouts, err := catalogue(ctx, e, q, schema)
	if err != nil {
		return nil, err
	}
	names, err := chooseTables(layouts, tables, opts, schema)
	if err != nil {
		return nil, err
	}
	state := newState(e, schema, opts)
	for _, name := range names {
		l := layouts[name]
		t, err := measureTable(ctx, q, d, specFor(schema, name, l.columns, l.key, opts))
		if err != nil {
			return nil, err
		}
		state.add(t)
	}
	return state, nil
}

// CaptureLike measures, on q, the tables of like that are not excluded,
// as like measured them: over like's columns, sampled by like's primary
// key, with like's settings. Tables now missing are left out and columns
// now missing are left out of their table's Columns (so that Diff reports
// them), and columns added since are ignored. It is the second half of a
// comparison: Capture the source, CaptureLike the copy (in another
// database, or later in time), then Diff.
func CaptureLike(ctx context.Context, e database.Engine, q database.Querier, schema string, like *State, opts Options) (*State, error) {
	opts, err := settingsOf(like, e, opts)
	if err != nil {
		return nil, err
	}
	d, layouts, err := catalogue(ctx, e, q, schema)
	if err != nil {
		return nil, err
	}
	state := newState(e, schema, opts)
	for i := range like.Tables {
		want := &like.Tables[i]
		l, ok := layouts[want.Name]
		if !ok || opts.excluded(want.Name) {
			continue
		}
		t, err := measureTable(ctx, q, d, specLike(schema, want.Name, l, want, opts))
		if err != nil {
			return nil, err
		}
		state.add(t)
	}
	return state, nil
}

// Recheck captures before's tables again on q, as before measured them,
// and returns a *MismatchError listing every table that changed: dropped,
// lost columns, a different row count or checksum. Tables in opts.Exclude
// are skipped. opts must sample as before did.
func Recheck(ctx context.Context, e database.Engine, q database.Querier, before *State, opts Options) error {
	if before == nil {
		return errNoCapture
	}
	after, err := CaptureLike(ctx, e, q, before.Schema, before, opts)
	if err != nil {
		return err
	}
	return mismatchError(recheckName, compareStates(before, after, opts))
}

// catalogue returns e's dialect and the layout of every table of schema.
func catalogue(ctx context.Context, e database.Engine, q database.Querier, schema string) (dialect, map[string]*tableLayout, error) {
	d, err := dialectFor(e)
	if err != nil {
		return nil, nil, err
	}
	layouts, err := readLayouts(ctx, q, e, schema)
	return d, layouts, err
}

// newState starts an empty capture with opts' settings.
func newState(e database.Engine, schema string, opts Options) *State {
	return &State{Engine: e.Name(), Schema: schema, SamplePercentage: opts.SamplePercentage, Checksum: opts.Checksum}
}

// settingsOf checks that opts samples as like did, on the same engine,
// and returns them normalized: measurements taken otherwise cannot be
// compared.
func settingsOf(like *State, e database.Engine, opts Options) (Options, error) {
	opts, err := opts.normalized()
	if err != nil {
		return opts, err
	}
	if like == nil {
		return opts, errNoCapture
	}
	if like.Engine != e.Name() {
		return opts, fmt.Errorf("the capture was taken on %s, not %s", like.Engine, e.Name())
	}
	if opts.SamplePercentage != like.SamplePercentage || opts.Checksum != like.Checksum {
		return opts, fmt.Errorf("options (sample %d%%, checksum %t) differ from the capture's (sample %d%%, checksum %t)",
			opts.SamplePercentage, opts.Checksum, like.SamplePercentage, like.Checksum)
	}
	return opts, nil
}

// chooseTables returns the tables to capture, sorted: the ones named, or
// every table but the revision table, less the excluded ones. A named
// table that does not exist is an error: capturing nothing would pass
// every later check.
func chooseTables(layouts map[string]*tableLayout, named []string, opts Options, schema string) ([]string, error) {
	if len(named) == 0 {
		for name := range layouts {
			if name != database.RevisionTable {
				named = append(named, name)
			}
		}
	}
	var names []string
	for _, name := range named {
		if _, ok := layouts[name]; !ok {
			return nil, fmt.Errorf("table %s not found in schema %s", name, schema)
		}
		if !opts.excluded(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

// specFor measures a table over cols, sampled by key.
func specFor(schema, table string, cols, key []column, opts Options) measureSpec {
	return measureSpec{
		schema: schema, table: table,
		columns: cols, key: key,
		percent: opts.SamplePercentage, checksum: opts.Checksum,
	}
}

// specLike measures table l over want's columns, sampled by want's key.
// When a column is gone, the checksum could not match anyway: only rows
// are counted, and the comparison reports the columns.
func specLike(schema, table string, l *tableLayout, want *Table, opts Options) measureSpec {
	cols, complete := pick(l.columns, want.Columns)
	key, keyComplete := pick(l.columns, want.PrimaryKey)
	if !keyComplete {
		key = nil
	}
	spec := specFor(schema, table, cols, key, opts)
	spec.checksum = spec.checksum && complete && !want.CountOnly
	return spec
}

// pick returns the columns of have named in names, in names' order, and
// whether all were there.
func pick(have []column, names []string) ([]column, bool) {
	byName := make(map[string]column, len(have))
	for _, c := range have {
		byName[c.name] = c
	}
	picked := make([]column, 0, len(names))
	for _, n := range names {
		if c, ok := byName[n]; ok {
			picked = append(picked, c)
		}
	}
	return picked, len(picked) == len(names)
}

// measureTable measures one table and records it as a Table.
func measureTable(ctx context.Context, q database.Querier, d dialect, spec measureSpec) (Table, error) {
	m, err := d.measure(ctx, q, spec)
	if err != nil {
		return Table{}, fmt.Errorf("measuring table %s: %w", spec.table, err)
	}
	return Table{
		Name:        spec.table,
		Columns:     columnNames(spec.columns),
		PrimaryKey:  columnNames(spec.key),
		Rows:        m.rows,
		SampledRows: m.sampled,
		Checksum:    m.checksum,
		CountOnly:   len(spec.key) == 0,
	}, nil
}

// columnNames lists the columns' names.
func columnNames(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}
