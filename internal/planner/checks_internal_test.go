package planner

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A server's error anywhere in a validation failure's chain is shown by
// its code alone, also when it is joined to the script's answer (a
// failure to make the session writable again after it).
func TestValidationErrorShowsTheServersCodeAlone(t *testing.T) {
	pg := &pgconn.PgError{Code: "22P02", Message: `invalid input syntax for type integer: "s3cr3t"`}
	for _, err := range []error{
		pg,
		errors.Join(validationAnswer("returned false"), fmt.Errorf("making the session writable again: %w", pg)),
	} {
		msg := (&ValidationError{Script: "v", Statement: 0, Err: err}).Error()
		if strings.Contains(msg, "s3cr3t") || !strings.Contains(msg, "(SQLSTATE 22P02)") {
			t.Errorf("ValidationError(%v) = %q", err, msg)
		}
	}
}

// decodeError stands for a driver's own error that quotes what it read.
type decodeError struct{ value string }

func (e decodeError) Error() string { return "cannot decode " + e.value }

// An error in a statement's chain that is neither the server's, the
// script's answer, nor a connection or time that ran out is not shown:
// a driver's error may quote what it read.
func TestValidationErrorShowsOnlyWhatReadNothing(t *testing.T) {
	leak := decodeError{"s3cr3t"}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{leak, `validation script "v": statement 2 failed (planner.decodeError); its message is not shown: it may quote the data the script read`},
		{errors.Join(validationAnswer("returned false"), fmt.Errorf("making the session writable again: %w", leak)),
			`validation script "v": statement 2 failed (planner.decodeError); its message is not shown`},
		{validationAnswer("returned false"), `validation script "v": returned false`},
		{fmt.Errorf("running it: %w", context.DeadlineExceeded), `validation script "v": running it: context deadline exceeded`},
		{errors.Join(validationAnswer("returned NULL"), fmt.Errorf("ending: %w", driver.ErrBadConn)), "returned NULL\nending: driver: bad connection"},
	} {
		msg := (&ValidationError{Script: "v", Statement: 1, Err: tt.err}).Error()
		if strings.Contains(msg, "s3cr3t") || !strings.Contains(msg, tt.want) {
			t.Errorf("ValidationError(%v) = %q, want it to hold %q", tt.err, msg, tt.want)
		}
	}
	// The script as a whole (its text would not split, say) is the
	// reviewer's, read before approval.
	whole := (&ValidationError{Script: "v", Statement: -1, Err: errors.New("has no statement")}).Error()
	if whole != `validation script "v": has no statement` {
		t.Errorf("got %q", whole)
	}
}
