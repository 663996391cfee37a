package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ConnLimit bounds the connections open at once to one database across
// every pool this process opens to it: a connection counts from the
// moment it is dialled until it is closed, whichever migration's plan,
// apply or check it serves. Share one ConnLimit per database.
type ConnLimit struct {
	slots chan struct{}
	// wait bounds how long a new connection waits for a free slot.
	wait time.Duration
}

// defaultConnWait is how long a connection waits for a free slot before
// the operation needing it fails (and is retried).
const defaultConnWait = 2 * time.Minute

// NewConnLimit allows n connections at once (at least 1).
func NewConnLimit(n int) *ConnLimit {
	return &ConnLimit{slots: make(chan struct{}, max(n, 1)), wait: defaultConnWait}
}

// Max is the number of connections allowed at once.
func (l *ConnLimit) Max() int { return cap(l.slots) }

// InUse is the number of connections open now.
func (l *ConnLimit) InUse() int { return len(l.slots) }

// ErrConnLimit: every connection the database allows this operator was
// in use for longer than a new one could wait.
var ErrConnLimit = errors.New("every connection to the database the operator may open is in use")

// acquire takes a slot, waiting at most l.wait (and ctx).
func (l *ConnLimit) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w (%d): %w", ErrConnLimit, l.Max(), ctx.Err())
	case <-timer.C:
		return fmt.Errorf("%w (%d) after waiting %s", ErrConnLimit, l.Max(), l.wait)
	}
}

func (l *ConnLimit) release() { <-l.slots }

// openLimited opens a pool to the target whose every connection holds a
// slot of limit.
func openLimited(ctx context.Context, t *Target, limit *ConnLimit) (*sql.DB, error) {
	inner, err := t.connector()
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(&limitedConnector{inner: inner, limit: limit})
	// An idle connection holds a slot another migration may be waiting
	// for.
	db.SetMaxIdleConns(1)
	return pinged(ctx, db)
}

// limitedConnector holds a slot of limit for every connection it makes.
type limitedConnector struct {
	inner driver.Connector
	limit *ConnLimit
}

func (c *limitedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := c.limit.acquire(ctx); err != nil {
		return nil, err
	}
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		c.limit.release()
		return nil, err
	}
	return &limitedConn{Conn: conn, release: c.limit.release}, nil
}

func (c *limitedConnector) Driver() driver.Driver { return c.inner.Driver() }

// limitedConn gives its slot back when it is closed. It passes on every
// optional interface the driver's connection has (returning driver.ErrSkip
// where it has none, which makes database/sql take its general path), and
// Unwrap gives the driver's own connection to code that needs it (COPY
// through pgx).
type limitedConn struct {
	driver.Conn
	once    sync.Once
	release func()
}

// Unwrap is the driver's connection.
func (c *limitedConn) Unwrap() driver.Conn { return c.Conn }

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	// The server sees the connection go a moment after the client closed
	// it (the session ends on its own schedule): the slot is given back
	// only once the server's count has caught up.
	c.once.Do(func() { time.AfterFunc(closeGrace, c.release) })
	return err
}

// closeGrace is how long a closed connection still counts, so that the
// server's own count of connections never passes the limit.
const closeGrace = 250 * time.Millisecond

func (c *limitedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //nolint:staticcheck // the driver has no BeginTx
}

func (c *limitedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Prepare(query)
}

func (c *limitedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *limitedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *limitedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *limitedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *limitedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *limitedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
