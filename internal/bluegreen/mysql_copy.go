package bluegreen

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxPlaceholders is the most bind parameters one MySQL statement takes.
const maxPlaceholders = 65535

// copyRows streams the table from the snapshot session and writes it to
// green with multi-row INSERTs. The read is a prepared statement, so rows
// come in the binary protocol: a FLOAT arrives as its 4 bytes, where the
// text protocol prints 6 significant digits and loses the rest. Dates and
// decimals arrive as text (parseTime is off), exact too, and every value
// goes back as a parameter the server converts to the column's type.
func (mysqlDialect) copyRows(ctx context.Context, src, dst *sql.Conn, t tableCopy, batch int, flushed func(int64)) (int64, error) {
	// Cancelling on the way out ends the read at once if the writer gave
	// up: closing an unfinished result set would otherwise read it to the
	// end. (Deferred calls run last first: cancel, then the closes.)
	ctx, cancel := context.WithCancel(ctx)
	read, err := src.PrepareContext(ctx, "SELECT "+strings.Join(t.columns, ", ")+" FROM "+t.from)
	if err != nil {
		cancel()
		return 0, fmt.Errorf("reading from blue: %w", err)
	}
	defer func() { _ = read.Close() }()
	rows, err := read.QueryContext(ctx)
	if err != nil {
		cancel()
		return 0, fmt.Errorf("reading from blue: %w", err)
	}
	defer func() { _ = rows.Close() }()
	defer cancel()
	b, err := newMySQLBatch(ctx, dst, t, batch, flushed)
	if err != nil {
		return 0, err
	}
	defer b.close()
	row := make([]any, len(t.columns))
	dest := make([]any, len(row))
	for i := range row {
		dest[i] = &row[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return b.written, fmt.Errorf("reading from blue: %w", err)
		}
		if err := b.add(ctx, row); err != nil {
			return b.written, err
		}
	}
	if err := rows.Err(); err != nil {
		return b.written, fmt.Errorf("reading from blue: %w", err)
	}
	return b.written, b.flush(ctx)
}

// mysqlBatch collects rows and inserts them into green a statement at a
// time. A statement holds at most perStmt rows (the batch size, within the
// placeholder limit) and about half the server's max_allowed_packet.
type mysqlBatch struct {
	conn     *sql.Conn
	t        tableCopy
	perStmt  int
	maxBytes int
	flushed  func(int64)
	// full is the prepared INSERT of perStmt rows, reused for every full
	// batch; a shorter batch is a statement of its own.
	full *sql.Stmt

	args    []any
	rows    int
	bytes   int
	written int64
}

func newMySQLBatch(ctx context.Context, conn *sql.Conn, t tableCopy, batch int, flushed func(int64)) (*mysqlBatch, error) {
	var packet int
	if err := conn.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&packet); err != nil {
		return nil, fmt.Errorf("reading max_allowed_packet: %w", err)
	}
	return &mysqlBatch{
		conn:     conn,
		t:        t,
		perStmt:  max(1, min(batch, maxPlaceholders/len(t.columns))),
		maxBytes: packet / 2,
		flushed:  flushed,
	}, nil
}

// add takes one row (the values are the caller's to reuse: Scan into *any
// gives each row fresh byte slices) and writes the batch when it is full.
func (b *mysqlBatch) add(ctx context.Context, row []any) error {
	b.args = append(b.args, row...)
	b.rows++
	for _, v := range row {
		b.bytes += valueSize(v)
	}
	if b.rows >= b.perStmt || b.bytes >= b.maxBytes {
		return b.flush(ctx)
	}
	return nil
}

// valueSize estimates a parameter's bytes on the wire.
func valueSize(v any) int {
	const overhead = 9 // type and length bytes
	switch v := v.(type) {
	case []byte:
		return len(v) + overhead
	case string:
		return len(v) + overhead
	default:
		return 8 + overhead
	}
}

// flush inserts the rows collected and checks that all went in.
func (b *mysqlBatch) flush(ctx context.Context) error {
	if b.rows == 0 {
		return nil
	}
	res, err := b.exec(ctx)
	if err != nil {
		return fmt.Errorf("writing to green: %w", err)
	}
	took, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("writing to green: %w", err)
	}
	if took != int64(b.rows) {
		return fmt.Errorf("writing to green: a batch of %d rows stored %d", b.rows, took)
	}
	b.written += took
	b.flushed(took)
	b.args, b.rows, b.bytes = b.args[:0], 0, 0
	return nil
}

func (b *mysqlBatch) exec(ctx context.Context) (sql.Result, error) {
	if b.rows != b.perStmt {
		return b.conn.ExecContext(ctx, b.insert(b.rows), b.args...)
	}
	if b.full == nil {
		stmt, err := b.conn.PrepareContext(ctx, b.insert(b.perStmt))
		if err != nil {
			return nil, err
		}
		b.full = stmt
	}
	return b.full.ExecContext(ctx, b.args...)
}

// insert is the INSERT statement for n rows.
func (b *mysqlBatch) insert(n int) string {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(b.t.columns)), ", ") + ")"
	var s strings.Builder
	s.WriteString("INSERT INTO " + b.t.into + " (" + strings.Join(b.t.columns, ", ") + ") VALUES ")
	for i := range n {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(tuple)
	}
	return s.String()
}

// close releases the prepared statement.
func (b *mysqlBatch) close() {
	if b.full != nil {
		_ = b.full.Close()
	}
}
