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

// copyRows streams the table out of blue with COPY TO, in PostgreSQL's
// text format, and into green with one COPY FROM, as `pg_dump | psql`
// does: the text crosses unchanged (no value is converted to a Go type and
// back, so every type the server has, arrays, ranges and extension types
// included, survives), and blue's server reads while green's writes.
// Each row is one line (newlines inside values are escaped), which is how
// rows are counted: the stream pauses after every batch rows while
// flushed hears of them, and the total must be what green's server says
// it stored. The rows read are what blue's server says it sent.
func (postgresDialect) copyRows(ctx context.Context, src, dst *sql.Conn, t tableCopy, batch int, flushed func(int64)) (int64, int64, error) {
	cols := " (" + strings.Join(t.columns, ", ") + ")"
	pr, pw := io.Pipe()
	var sent int64 // read once read has answered
	read := make(chan error, 1)
	go func() {
		// CopyTo writes a row at a time; through the pipe, each would
		// reach green as a message and a write of its own.
		buffered := bufio.NewWriterSize(pw, 64<<10)
		err := withPgConn(src, func(pc *pgconn.PgConn) error {
			tag, err := pc.CopyTo(ctx, buffered, "COPY "+t.from+cols+" TO STDOUT")
			if err != nil {
				return err
			}
			sent = tag.RowsAffected()
			return buffered.Flush()
		})
		pw.CloseWithError(err)
		read <- err
	}()
	rows := newRowStream(ctx, pr, batch)
	type result struct {
		took int64
		err  error
	}
	wrote := make(chan result, 1)
	go func() {
		var took int64
		err := withPgConn(dst, func(pc *pgconn.PgConn) error {
			tag, err := pc.CopyFrom(ctx, rows, "COPY "+t.into+cols+" FROM STDIN")
			took = tag.RowsAffected()
			return err
		})
		wrote <- result{took, err}
	}()
	// Progress is told on this goroutine, the clone's, as Options
	// promises, while the stream waits.
	var w result
	for w.took == 0 && w.err == nil {
		select {
		case n := <-rows.batches:
			flushed(n)
			rows.resume <- struct{}{}
		case w = <-wrote:
			if w.took == 0 && w.err == nil {
				w.err = errNothingWritten
			}
		}
	}
	// Stops the reader if the writer gave up first: its next write fails.
	_ = pr.CloseWithError(errors.New("the copy into green stopped"))
	rerr := <-read
	switch {
	case w.err != nil && !errors.Is(w.err, errNothingWritten):
		return 0, 0, fmt.Errorf("writing to green: %w", w.err)
	case rerr != nil:
		return 0, 0, fmt.Errorf("reading from blue: %w", rerr)
	case rows.open:
		return 0, 0, fmt.Errorf("reading from blue: %w", io.ErrUnexpectedEOF)
	case w.took != rows.rows:
		return sent, w.took, fmt.Errorf("writing to green: %d rows sent, %d stored", rows.rows, w.took)
	}
	if rest := rows.rows - rows.told; rest > 0 {
		flushed(rest)
	}
	return sent, w.took, nil
}

// errNothingWritten stands for a COPY FROM that stored no row, which the
// caller compares with the rows sent.
var errNothingWritten = errors.New("no row written")

// rowStream passes COPY text through to green and counts its rows, the
// lines ended so far. After every batch rows it stops, sends the rows
// since the last stop on batches, and waits on resume: progress is
// reported between two rows, on the clone's goroutine, and a clone
// cancelled there stops after that batch.
type rowStream struct {
	ctx     context.Context
	r       *bufio.Reader
	batch   int64
	batches chan int64
	resume  chan struct{}

	// rows are the whole rows passed on, told those reported.
	rows, told int64
	// open is true while the last byte passed on did not end a row.
	open bool
}

func newRowStream(ctx context.Context, r io.Reader, batch int) *rowStream {
	return &rowStream{ctx: ctx, r: bufio.NewReaderSize(r, 64<<10), batch: int64(max(batch, 1)),
		// resume holds one: a stream that stopped waiting (its context
		// ended) leaves the reporter free to go on.
		batches: make(chan int64), resume: make(chan struct{}, 1)}
}

func (s *rowStream) Read(p []byte) (int, error) {
	if s.rows-s.told >= s.batch {
		select {
		case s.batches <- s.rows - s.told:
		case <-s.ctx.Done():
			return 0, s.ctx.Err()
		}
		select {
		case <-s.resume:
		case <-s.ctx.Done():
			return 0, s.ctx.Err()
		}
		s.told = s.rows
	}
	if _, err := s.r.Peek(1); err != nil {
		return 0, err
	}
	buf, _ := s.r.Peek(min(len(p), s.r.Buffered()))
	// Up to the row that completes the batch, if it is in buf.
	n, need := len(buf), s.batch-(s.rows-s.told)
	for off := 0; ; {
		i := bytes.IndexByte(buf[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
		s.rows++
		if need--; need == 0 {
			n = off
			break
		}
	}
	copy(p, buf[:n])
	_, _ = s.r.Discard(n)
	s.open = buf[n-1] != '\n'
	return n, nil
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
