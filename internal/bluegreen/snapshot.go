package bluegreen

import (
	"context"
	"database/sql"
	"time"
)

// snapshot is the read-only transaction, on a connection of its own, that
// every read of blue goes through, so that green is blue as of one instant.
type snapshot struct {
	conn *sql.Conn
	// at is the server's clock when the snapshot was taken.
	at time.Time
}

// beginSnapshot takes a connection from db and starts the dialect's
// snapshot transaction on it.
func beginSnapshot(ctx context.Context, d dialect, db *sql.DB) (*snapshot, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	at, err := d.beginSnapshot(ctx, conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &snapshot{conn: conn, at: at}, nil
}

// end rolls the transaction back (it wrote nothing) and lets the
// connection go. It uses a context of its own: the clone's may be
// cancelled, and an open snapshot holds back PostgreSQL's vacuum and
// InnoDB's purge for as long as it lives.
func (s *snapshot) end() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.conn.ExecContext(ctx, "ROLLBACK")
	_ = s.conn.Close()
}
