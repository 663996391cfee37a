package planner

import (
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
