package database

import (
	"errors"
	"net/url"
	"strings"
)

var (
	// ErrUnreachable matches every *ConnectionError: the database could
	// not be reached or refused the credentials. Retrying may help.
	ErrUnreachable = errors.New("database unreachable")
	// ErrLockBusy: another session holds the migration lock.
	ErrLockBusy = errors.New("another migration holds the database lock")
)

// ConnectionError is a failure to connect, with the target's URL redacted.
type ConnectionError struct {
	Target string
	Err    error
}

func (e *ConnectionError) Error() string {
	return "connecting to " + e.Target + ": " + e.Err.Error()
}

func (e *ConnectionError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreachable) true, except for a SQLite path
// refused at open, which no retry mends.
func (e *ConnectionError) Is(target error) bool {
	return target == ErrUnreachable && !errors.Is(e.Err, ErrSQLitePathOutsideRoot)
}

// redactURLError drops the URL, and so any password, a *url.Error carries.
func redactURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// secretParams are the query parameters of a server's URL that hold a
// secret (pgx reads a password from the query as from the user part).
var secretParams = []string{"password", "sslpassword"}

// redacted is u as text with its passwords, in the user part or the
// query, masked as url.URL.Redacted masks the first.
func redacted(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			for _, p := range secretParams {
				if strings.EqualFold(k, p) {
					q[k] = []string{"xxxxx"}
				}
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}
