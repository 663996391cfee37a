package integrity

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMismatch matches every *MismatchError: the data differs. Any other
// error means the check itself could not run.
var ErrMismatch = errors.New("data integrity mismatch")

// Kind says what differs about a table.
type Kind string

const (
	// TableMissing: the table is gone (Recheck) or has no copy (Diff).
	TableMissing Kind = "TableMissing"
	// ColumnsDiffer: columns checked before are missing, or the two sides
	// cover different columns; the checksum is not compared.
	ColumnsDiffer Kind = "ColumnsDiffer"
	// KeyDiffers: the sides were sampled by different primary keys; the
	// checksum is not compared.
	KeyDiffers Kind = "KeyDiffers"
	// RowCount: the row counts differ.
	RowCount Kind = "RowCount"
	// Checksum: the sampled rows' checksums differ.
	Checksum Kind = "Checksum"
)

// Mismatch is one difference in one table. Before is the first capture
// (the state before a script, or the source of a copy), After the second.
type Mismatch struct {
	Kind Kind
	// Table is the table's name in the first capture.
	Table string
	// Copy is the table's name in the second capture when it differs
	// (DiffTables).
	Copy string
	// Missing and Extra are, for ColumnsDiffer, the columns only in the
	// first capture and only in the second; for KeyDiffers, the two keys.
	Missing, Extra []string
	// Before and After are the row counts (RowCount) or the sampled row
	// counts (Checksum).
	Before, After int64
}

// String says what differs in words, with names and counts only: values
// may be sensitive.
func (m Mismatch) String() string {
	return "table " + m.tableName() + ": " + m.problem()
}

// tableName names the table, and its copy when that has another name.
func (m Mismatch) tableName() string {
	if m.Copy != "" && m.Copy != m.Table {
		return m.Table + " (copy " + m.Copy + ")"
	}
	return m.Table
}

// problem describes the difference itself.
func (m Mismatch) problem() string {
	switch m.Kind {
	case TableMissing:
		return "missing"
	case ColumnsDiffer:
		return columnsProblem(m.Missing, m.Extra)
	case KeyDiffers:
		return fmt.Sprintf("primary key (%s) → (%s), checksum not compared",
			strings.Join(m.Missing, ", "), strings.Join(m.Extra, ", "))
	case RowCount:
		return fmt.Sprintf("rows %d → %d", m.Before, m.After)
	case Checksum:
		if m.Before != m.After {
			return fmt.Sprintf("checksum differs (sampled rows %d → %d)", m.Before, m.After)
		}
		return fmt.Sprintf("checksum differs over %d sampled rows", m.Before)
	}
	return string(m.Kind)
}

// columnsProblem describes missing and extra columns.
func columnsProblem(missing, extra []string) string {
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, plural(len(missing), "column ", "columns ")+strings.Join(missing, ", ")+" missing")
	}
	if len(extra) > 0 {
		parts = append(parts, plural(len(extra), "extra column ", "extra columns ")+strings.Join(extra, ", "))
	}
	return strings.Join(parts, ", ") + ", checksum not compared"
}

// plural picks the singular or plural form for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// MismatchError lists every difference found, so that a person sees all
// of them at once.
type MismatchError struct {
	// Check names the comparison: "data integrity check" after a script,
	// "copy check" for a copy.
	Check      string
	Mismatches []Mismatch
}

func (e *MismatchError) Error() string {
	lines := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		lines[i] = m.String()
	}
	return fmt.Sprintf("%s failed, %d %s: %s", e.Check, len(e.Mismatches),
		plural(len(e.Mismatches), "mismatch", "mismatches"), strings.Join(lines, "; "))
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// mismatchError returns nil when nothing differs, so callers can return
// its result directly.
func mismatchError(check string, ms []Mismatch) error {
	if len(ms) == 0 {
		return nil
	}
	return &MismatchError{Check: check, Mismatches: ms}
}
