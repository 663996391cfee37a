package shadow

import (
	"errors"
	"fmt"
	"strings"
)

// Reasons Run refuses a change. Each is a sentinel: errors.Is(err,
// ErrNoPrimaryKey) holds for the *RefusalError carrying it.
var (
	// ErrNoTable: the table to change does not exist.
	ErrNoTable = errors.New("table does not exist")
	// ErrNoPrimaryKey: rows cannot be copied in order nor matched between
	// the tables without a primary key.
	ErrNoPrimaryKey = errors.New("table has no primary key")
	// ErrPrimaryKeyChanged: the shadow's primary key is not the live
	// table's, so a mirrored update or delete could not find its row.
	ErrPrimaryKeyChanged = errors.New("the new definition changes the primary key")
	// ErrReferenced: foreign keys point at the table; after the swap they
	// would point at the backup.
	ErrReferenced = errors.New("table is referenced by foreign keys")
	// ErrUnsupported: the table has something a copy does not carry over
	// safely (listed in the error's Details).
	ErrUnsupported = errors.New("table cannot be changed through a shadow table")
	// ErrNameInUse: a name Run needs is taken by an object it did not
	// create, or by a backup an earlier run kept.
	ErrNameInUse = errors.New("name already in use")
	// ErrNoBackup: SwapBack found no backup to put back.
	ErrNoBackup = errors.New("no kept backup to swap back")
)

// RefusalError says why a change cannot go through a shadow table, before
// anything was changed.
type RefusalError struct {
	// Table is the table, schema-qualified.
	Table string
	// Reason is one of the Err sentinels above.
	Reason error
	// Details name the objects at fault (referencing constraints, views,
	// names in use), so the message says what to fix.
	Details []string
}

func (e *RefusalError) Error() string {
	msg := fmt.Sprintf("shadow-table change of %s: %v", e.Table, e.Reason)
	if len(e.Details) > 0 {
		msg += ": " + strings.Join(e.Details, "; ")
	}
	return msg
}

// Is makes errors.Is(err, ErrReferenced) and its kin true.
func (e *RefusalError) Is(target error) bool { return target == e.Reason }

// VerifyError: after the copy the shadow does not hold the live table's
// rows, so swapping would lose or invent data.
type VerifyError struct {
	Table        string
	Live, Shadow int64
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verifying the shadow of %s: the table has %d rows, the shadow %d", e.Table, e.Live, e.Shadow)
}

// refuse builds a *RefusalError.
func refuse(table string, reason error, details ...string) error {
	return &RefusalError{Table: table, Reason: reason, Details: details}
}
