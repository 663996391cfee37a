package bluegreen

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// maxBatchBytes bounds a batch's text, whatever its row count, so that
// wide rows do not pile up in memory.
const maxBatchBytes = 16 << 20

// copyRows streams the table out of blue with COPY TO, in PostgreSQL's
// text format, and into green with one COPY FROM per batch. The text
// crosses unchanged: no value is converted to a Go type and back, so
// every type the server has (arrays, ranges, extension types) survives.
// Each row is one line (newlines inside values are escaped), which is how
// rows are counted and batches cut.
func (postgresDialect) copyRows(ctx context.Context, src, dst *sql.Conn, t tableCopy, batch int, flushed func(int64)) (int64, error) {
	cols := " (" + strings.Join(t.columns, ", ") + ")"
	pr, pw := io.Pipe()
	read := make(chan error, 1)
	go func() {
		err := withPgConn(src, func(pc *pgconn.PgConn) error {
			_, err := pc.CopyTo(ctx, pw, "COPY "+t.from+cols+" TO STDOUT")
			return err
		})
		pw.CloseWithError(err)
		read <- err
	}()
	b := &pgBatch{conn: dst, copyIn: "COPY " + t.into + cols + " FROM STDIN", limit: batch, flushed: flushed}
	werr := b.drain(ctx, bufio.NewReaderSize(pr, 64<<10))
	// Stops the reader if the writer gave up first: its next write fails.
	_ = pr.CloseWithError(errors.New("the copy into green stopped"))
	rerr := <-read
	switch {
	case werr != nil:
		return b.written, werr
	case rerr != nil:
		return b.written, fmt.Errorf("reading from blue: %w", rerr)
	}
	return b.written, nil
}

// withPgConn runs f on the pgx connection under conn, for what
// database/sql cannot express: COPY.
func withPgConn(conn *sql.Conn, f func(*pgconn.PgConn) error) error {
	return conn.Raw(func(dc any) error {
		// A connection under a limit wraps pgx's.
		if w, ok := dc.(interface{ Unwrap() driver.Conn }); ok {
			dc = w.Unwrap()
		}
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("a PostgreSQL connection through pgx was expected, not %T", dc)
		}
		return f(c.Conn().PgConn())
	})
}

// pgBatch collects COPY text rows and writes them to green a batch at a
// time.
type pgBatch struct {
	conn    *sql.Conn
	copyIn  string
	limit   int
	flushed func(int64)

	buf     bytes.Buffer
	rows    int
	written int64
}

// drain reads rows until the end of the stream, writing a batch whenever
// it is full.
func (b *pgBatch) drain(ctx context.Context, r *bufio.Reader) error {
	for {
		err := readRow(r, &b.buf)
		if errors.Is(err, io.EOF) {
			return b.flush(ctx)
		}
		if err != nil {
			return fmt.Errorf("reading from blue: %w", err)
		}
		b.rows++
		if b.rows >= b.limit || b.buf.Len() >= maxBatchBytes {
			if err := b.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// flush writes the rows collected, in one COPY FROM, and checks that the
// server took them all.
func (b *pgBatch) flush(ctx context.Context) error {
	if b.rows == 0 {
		return nil
	}
	var took int64
	err := withPgConn(b.conn, func(pc *pgconn.PgConn) error {
		tag, err := pc.CopyFrom(ctx, bytes.NewReader(b.buf.Bytes()), b.copyIn)
		took = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("writing to green: %w", err)
	}
	if took != int64(b.rows) {
		return fmt.Errorf("writing to green: a batch of %d rows stored %d", b.rows, took)
	}
	b.written += took
	b.flushed(took)
	b.buf.Reset()
	b.rows = 0
	return nil
}

// readRow appends one row, up to and including its newline, to buf. It
// returns io.EOF at the end of the stream, io.ErrUnexpectedEOF when the
// stream ends inside a row.
func readRow(r *bufio.Reader, buf *bytes.Buffer) error {
	started := false
	for {
		chunk, err := r.ReadSlice('\n')
		buf.Write(chunk)
		started = started || len(chunk) > 0
		switch {
		case err == nil:
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && started:
			return io.ErrUnexpectedEOF
		default:
			return err
		}
	}
}
