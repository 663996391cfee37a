package bluegreen

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrGreenExists: the database Clone was asked to create is already
	// there, from an earlier run (finished or not: see Complete) or from
	// someone else. Clone never writes into a database it did not create.
	ErrGreenExists = errors.New("green database already exists")
	// ErrEngine: the database type has no blue-green support (SQLite: a
	// file has no server to hold a second database).
	ErrEngine = errors.New("blue-green is not supported for this database type")
	// ErrGreenName: the green name is empty, too long for the engine, or
	// blue's own name.
	ErrGreenName = errors.New("invalid green database name")
	// ErrUnsupported matches every *UnsupportedError.
	ErrUnsupported = errors.New("blue has objects a clone cannot copy")
)

// UnsupportedError lists what blue has that Clone cannot copy faithfully:
// green would behave differently without it (a trigger, a function, a
// row-level security policy...). Clone refuses before creating anything.
type UnsupportedError struct {
	// Database is blue's name.
	Database string
	// Objects name each object at fault, such as "trigger orders.audit".
	Objects []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("database %s cannot be cloned: it has objects a clone would not carry over: %s",
		e.Database, strings.Join(e.Objects, ", "))
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// RowCountError: a table's copy holds another number of rows than blue's
// snapshot, so green is not a copy.
type RowCountError struct {
	Table         string
	Blue, Written int64
}

func (e *RowCountError) Error() string {
	return fmt.Sprintf("table %s: the snapshot of blue holds %d rows but %d were written to green", e.Table, e.Blue, e.Written)
}
