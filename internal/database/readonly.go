package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ReadOnly runs fn on a session of q's that cannot change the database:
// what a validation script's statements run in, after the plan's, on the
// target. A validation script is shown with the plan, but none of its
// changes, findings or destructive flag count it, so nothing it runs may
// write: an author's `DELETE` in one would run under an approval of
// something else.
//
//   - PostgreSQL: inside the apply's transaction (q a *sql.Tx), a
//     savepoint made read-only and rolled back to after, so the script
//     sees the plan's changes and leaves the transaction as it was;
//     otherwise a READ ONLY transaction of its own, rolled back.
//   - MySQL and MariaDB: the session's transactions made read-only (SET
//     SESSION TRANSACTION READ ONLY, back to READ WRITE after) and a
//     transaction of its own, rolled back. Writes to tables (a stored
//     function's too) fail in it, and so does DDL, which would otherwise
//     commit the transaction and run outside it. They never validate
//     inside the apply's transaction (their DDL is not transactional).
//   - SQLite: query_only on the connection, for fn alone.
//
// A script whose statements end the transaction themselves (COMMIT,
// ROLLBACK TO, RELEASE) would step out; sqlstatic.ReadOnly refuses those
// too. fn's error is returned whole; failing to restore the session is
// joined to it.
func ReadOnly(ctx context.Context, e Engine, q Querier, fn func(Querier) error) error {
	s, ok := e.(readOnlySession)
	if !ok {
		return fmt.Errorf("%s has no read-only session", e.Name())
	}
	return s.readOnly(ctx, q, fn)
}

// readOnlySession is an engine's way of running fn so that it changes
// nothing (see ReadOnly).
type readOnlySession interface {
	readOnly(ctx context.Context, q Querier, fn func(Querier) error) error
}

func (postgresEngine) readOnly(ctx context.Context, q Querier, fn func(Querier) error) error {
	if tx, ok := q.(*sql.Tx); ok {
		return readOnlySavepoint(ctx, tx, fn)
	}
	return readOnlyTx(ctx, q, fn)
}

func (mysqlEngine) readOnly(ctx context.Context, q Querier, fn func(Querier) error) (err error) {
	conn, ok := q.(*sql.Conn)
	if !ok {
		return errors.New("a read-only session on MySQL needs a connection of its own")
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err != nil {
		return fmt.Errorf("making the session read-only: %w", err)
	}
	defer func() {
		if _, resetErr := conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION TRANSACTION READ WRITE"); resetErr != nil {
			err = errors.Join(err, fmt.Errorf("making the session writable again: %w", resetErr))
		}
	}()
	return readOnlyTx(ctx, conn, fn)
}

func (sqliteEngine) readOnly(ctx context.Context, q Querier, fn func(Querier) error) (err error) {
	if _, err := q.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		return fmt.Errorf("making the session read-only: %w", err)
	}
	defer func() {
		if _, resetErr := q.ExecContext(context.WithoutCancel(ctx), "PRAGMA query_only = OFF"); resetErr != nil {
			err = errors.Join(err, fmt.Errorf("making the session writable again: %w", resetErr))
		}
	}()
	return fn(q)
}

// readOnlyTx runs fn in a READ ONLY transaction of q's, rolled back.
func readOnlyTx(ctx context.Context, q Querier, fn func(Querier) error) (err error) {
	beginner, ok := q.(interface {
		BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
	})
	if !ok {
		return errors.New("a read-only transaction needs a connection, not a transaction")
	}
	tx, err := beginner.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("beginning a read-only transaction: %w", err)
	}
	defer func() {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			err = errors.Join(err, fmt.Errorf("rolling the read-only transaction back: %w", rbErr))
		}
	}()
	return fn(tx)
}

// readOnlySavepoint runs fn in a read-only savepoint of tx, rolled back
// to after: PostgreSQL lets a transaction become read-only at any point
// (never writable again inside it), and leaving the savepoint restores
// the mode it had. Rolled back to, not only released: a statement of fn
// that failed leaves tx usable again, and a temporary table fn wrote
// (which a read-only transaction allows) is as it was.
func readOnlySavepoint(ctx context.Context, tx *sql.Tx, fn func(Querier) error) (err error) {
	const savepoint = "kube_shift_read_only"
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+savepoint); err != nil {
		return fmt.Errorf("making the session read-only: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "SET TRANSACTION READ ONLY"); err != nil {
		return fmt.Errorf("making the session read-only: %w", err)
	}
	defer func() {
		restore := context.WithoutCancel(ctx)
		_, rbErr := tx.ExecContext(restore, "ROLLBACK TO SAVEPOINT "+savepoint)
		if rbErr == nil {
			_, rbErr = tx.ExecContext(restore, "RELEASE SAVEPOINT "+savepoint)
		}
		if rbErr != nil {
			err = errors.Join(err, fmt.Errorf("leaving the read-only savepoint: %w", rbErr))
		}
	}()
	return fn(tx)
}
