package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// ErrForbiddenServer matches a connection of a Target with NotOn that
// reached that server.
var ErrForbiddenServer = errors.New("the connection reached a server it must not")

// identified is a server engine whose server's identity (ServerID) can be
// read through query on a connection as it opens.
type identified interface {
	serverEngine
	serverID(ctx context.Context, query func(string) (string, error)) (string, error)
}

// connector is the engine's connector for t, checking, when t has NotOn,
// every connection as it opens: a check made once, on the first, would
// let a later one (a pool's redial, a list of hosts falling back to the
// next, a name resolving elsewhere) reach that server.
func (t *Target) connector() (driver.Connector, error) {
	e, ok := t.Engine.(identified)
	if !ok {
		return nil, fmt.Errorf("%s is not a server", t.Engine.Name())
	}
	inner, err := e.connector(t.URL, t.RootCAs)
	if err != nil || t.NotOn == "" {
		return inner, err
	}
	return &notOnConnector{inner: inner, engine: e, server: t.NotOn}, nil
}

type notOnConnector struct {
	inner  driver.Connector
	engine identified
	server string
}

func (c *notOnConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	id, err := c.engine.serverID(ctx, func(query string) (string, error) { return connText(ctx, conn, query) })
	if err == nil && id == c.server {
		err = ErrForbiddenServer
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

func (c *notOnConnector) Driver() driver.Driver { return c.inner.Driver() }

// connText runs query on a driver's connection and returns its first
// column of its first row as text.
func connText(ctx context.Context, conn driver.Conn, query string) (string, error) {
	qc, ok := conn.(driver.QueryerContext)
	if !ok {
		return "", fmt.Errorf("a %T connection cannot run a query", conn)
	}
	rows, err := qc.QueryContext(ctx, query, nil)
	if err != nil {
		return "", fmt.Errorf("reading the server's identity: %w", err)
	}
	defer func() { _ = rows.Close() }()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return "", fmt.Errorf("reading the server's identity: %w", err)
	}
	switch v := dest[0].(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	default:
		return fmt.Sprint(v), nil
	}
}

// openChecked opens t through its checking connector.
func openChecked(ctx context.Context, t *Target) (*sql.DB, error) {
	c, err := t.connector()
	if err != nil {
		return nil, err
	}
	return pinged(ctx, sql.OpenDB(c))
}
