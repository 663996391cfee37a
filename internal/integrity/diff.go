package integrity

import (
	"context"
	"fmt"
	"slices"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// copyCheckName names Diff's and DiffTables' comparison in their errors.
const copyCheckName = "copy check"

// Diff compares two captures of the same tables taken in different places,
// a the original and b its copy (take b with CaptureLike(..., a, ...) so
// that it covers a's tables and columns). Every table of a must be in b
// with the same row count and checksum; tables only in b are ignored. It
// returns a *MismatchError listing every difference.
func Diff(a, b *State) error {
	if a == nil || b == nil {
		return errNoCapture
	}
	if a.SamplePercentage != b.SamplePercentage || a.Checksum != b.Checksum {
		return fmt.Errorf("comparing captures taken with different options (sample %d%% and %d%%, checksum %t and %t)",
			a.SamplePercentage, b.SamplePercentage, a.Checksum, b.Checksum)
	}
	if a.Engine != b.Engine && a.Checksum {
		return fmt.Errorf("comparing checksums taken on %s and %s: engines render values differently", a.Engine, b.Engine)
	}
	return mismatchError(copyCheckName, compareStates(a, b, Options{}))
}

// DiffTables compares table source with its copy in the same schema (a
// shadow table) over columns, nil meaning all of source's columns. The
// source's primary-key columns are always compared, and both tables are
// sampled by them. It returns a *MismatchError listing every difference, or
// an error when source or one of the columns does not exist.
func DiffTables(ctx context.Context, e database.Engine, q database.Querier, schema, source, copyName string, columns []string, opts Options) error {
	opts, err := opts.normalized()
	if err != nil {
		return err
	}
	d, layouts, err := catalogue(ctx, e, q, schema)
	if err != nil {
		return err
	}
	src, ok := layouts[source]
	if !ok {
		return fmt.Errorf("table %s not found in schema %s", source, schema)
	}
	want, err := sourceColumns(src, source, columns)
	if err != nil {
		return err
	}
	dst, ok := layouts[copyName]
	if !ok {
		return mismatchError(copyCheckName, []Mismatch{{Kind: TableMissing, Table: source, Copy: copyName}})
	}
	a, err := measureTable(ctx, q, d, specFor(schema, source, want, src.key, opts))
	if err != nil {
		return err
	}
	b, err := measureTable(ctx, q, d, specLike(schema, copyName, dst, &a, opts))
	if err != nil {
		return err
	}
	return mismatchError(copyCheckName, compareTables(&a, &b, copyName))
}

// sourceColumns resolves the columns a DiffTables compares: the named
// ones plus the primary key, or all of them, sorted by name.
func sourceColumns(src *tableLayout, source string, named []string) ([]column, error) {
	if len(named) == 0 {
		return src.columns, nil
	}
	named = slices.Clone(named)
	for _, k := range src.key {
		if !slices.Contains(named, k.name) {
			named = append(named, k.name)
		}
	}
	for _, n := range named {
		if !slices.ContainsFunc(src.columns, func(c column) bool { return c.name == n }) {
			return nil, fmt.Errorf("column %s not found in table %s", n, source)
		}
	}
	picked, _ := pick(src.columns, named)
	sortColumns(picked)
	return picked, nil
}

// compareStates compares every table of a, except the excluded ones,
// with the same table in b.
func compareStates(a, b *State, opts Options) []Mismatch {
	var ms []Mismatch
	for i := range a.Tables {
		t := &a.Tables[i]
		if opts.excluded(t.Name) {
			continue
		}
		other := b.Table(t.Name)
		if other == nil {
			ms = append(ms, Mismatch{Kind: TableMissing, Table: t.Name})
			continue
		}
		ms = append(ms, compareTables(t, other, "")...)
	}
	return ms
}

// compareTables compares one table's two measurements. Checksums are
// compared only over the same columns sampled by the same key: otherwise
// they differ whatever the data, and the columns or key are what to
// report.
func compareTables(a, b *Table, copyName string) []Mismatch {
	var ms []Mismatch
	if a.Rows != b.Rows {
		ms = append(ms, Mismatch{Kind: RowCount, Before: a.Rows, After: b.Rows})
	}
	missing, extra := difference(a.Columns, b.Columns), difference(b.Columns, a.Columns)
	switch {
	case len(missing) > 0 || len(extra) > 0:
		ms = append(ms, Mismatch{Kind: ColumnsDiffer, Missing: missing, Extra: extra})
	case !slices.Equal(a.PrimaryKey, b.PrimaryKey):
		ms = append(ms, Mismatch{Kind: KeyDiffers, Missing: a.PrimaryKey, Extra: b.PrimaryKey})
	case a.checksummed() && b.checksummed() && (a.Checksum != b.Checksum || a.SampledRows != b.SampledRows):
		ms = append(ms, Mismatch{Kind: Checksum, Before: a.SampledRows, After: b.SampledRows})
	}
	for i := range ms {
		ms[i].Table, ms[i].Copy = a.Name, copyName
	}
	return ms
}

// difference lists the names in a that are not in b, in a's order.
func difference(a, b []string) []string {
	var out []string
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}
