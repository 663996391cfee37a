package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RevisionTable is the table recording applied plans. It lives in the
// migrated schema and is excluded from every inspection, diff and drift
// check, so a declarative plan never drops it.
const RevisionTable = "kube_shift_revisions"

// Revision statuses.
const (
	RevisionRunning   = "running"
	RevisionSucceeded = "succeeded"
	RevisionFailed    = "failed"
	// RevisionRolledBack: the apply failed and was taken back to the
	// schema it started from.
	RevisionRolledBack = "rolled back"
	// RevisionCheckpoint: one step of a rolling apply, committed. Its
	// scripts count as applied; its plan hash is the key a resumed apply
	// looks up (see planner's rolling apply).
	RevisionCheckpoint = "checkpoint"
)

// Revision is one row of the revision table.
type Revision struct {
	ID int64
	// PlanHash is the applied plan's hash.
	PlanHash string
	// Object identifies the DatabaseMigration (uid, namespace/name) or the
	// CLI run that applied it.
	Object string
	// Scripts are the names and checksums of the scripts applied.
	Scripts []ScriptRecord
	// Pins are records of what else the approval covered (validation
	// scripts, run settings), by checksum, for a resumed apply to check:
	// kept in the scripts column under names starting with PinPrefix,
	// which no script's name can.
	Pins []ScriptRecord
	// Approver is who approved the plan.
	Approver   string
	StartedAt  time.Time
	FinishedAt *time.Time
	Status     string
	// Done is the number of statements completed, Total of the plan: on a
	// failure without transactional DDL, where the apply stopped.
	Done, Total int
	Error       string
}

// PinPrefix starts the name of every pin in the scripts column.
const PinPrefix = "@"

// ScriptRecord is a script as the revision table records it.
type ScriptRecord struct {
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
}

// revisionDialect is an engine's SQL for the revision table.
type revisionDialect struct {
	create string
	exists string
	// placeholder returns the n-th (1-based) bind parameter.
	placeholder func(n int) string
	// returning says INSERT ... RETURNING id works; else LastInsertId.
	returning bool
}

const revisionColumns = "id, plan_hash, object, scripts, approver, started_at, finished_at, status, statements_done, statements_total, error"

// Revisions reads and writes the revision table of a target through q,
// which may be a transaction or the connection holding the lock.
type Revisions struct {
	d revisionDialect
	q Querier
}

// RevisionsOn returns the revision table of engine e through q.
func RevisionsOn(e Engine, q Querier) *Revisions {
	return &Revisions{d: e.revisions(), q: q}
}

// Ensure creates the table if it does not exist.
func (r *Revisions) Ensure(ctx context.Context) error {
	if _, err := r.q.ExecContext(ctx, r.d.create); err != nil {
		return fmt.Errorf("creating %s: %w", RevisionTable, err)
	}
	return nil
}

// exists reports whether the table exists, so reading a database that
// never saw an apply writes nothing.
func (r *Revisions) exists(ctx context.Context) (bool, error) {
	var n int
	if err := r.q.QueryRowContext(ctx, r.d.exists).Scan(&n); err != nil {
		return false, fmt.Errorf("looking for %s: %w", RevisionTable, err)
	}
	return n > 0, nil
}

// Insert records rev and returns its id.
func (r *Revisions) Insert(ctx context.Context, rev *Revision) (int64, error) {
	scripts, err := json.Marshal(nonNil(append(slices.Clone(rev.Scripts), rev.Pins...)))
	if err != nil {
		return 0, err
	}
	args := []any{rev.PlanHash, rev.Object, string(scripts), rev.Approver, rev.StartedAt.UTC(), finishedArg(rev.FinishedAt), rev.Status, rev.Done, rev.Total, rev.Error}
	ph := make([]string, len(args))
	for i := range ph {
		ph[i] = r.d.placeholder(i + 1)
	}
	query := "INSERT INTO " + RevisionTable + " (plan_hash, object, scripts, approver, started_at, finished_at, status, statements_done, statements_total, error) VALUES (" + strings.Join(ph, ", ") + ")"
	if r.d.returning {
		var id int64
		if err := r.q.QueryRowContext(ctx, query+" RETURNING id", args...).Scan(&id); err != nil {
			return 0, fmt.Errorf("recording the revision: %w", err)
		}
		rev.ID = id
		return id, nil
	}
	res, err := r.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("recording the revision: %w", err)
	}
	if rev.ID, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("recording the revision: %w", err)
	}
	return rev.ID, nil
}

// Checkpoint updates a revision's status and progress.
func (r *Revisions) Checkpoint(ctx context.Context, id int64, status string, done int, finished *time.Time, errText string) error {
	if status == RevisionRunning && finished == nil && errText == "" {
		// The checkpoint after each statement of an apply: only numbers
		// and a constant, written into the statement so that it takes one
		// round trip (with arguments, MySQL's driver prepares, executes
		// and closes it: three, twice the statement it records).
		query := fmt.Sprintf("UPDATE %s SET status = '%s', statements_done = %d, finished_at = NULL, error = '' WHERE id = %d",
			RevisionTable, RevisionRunning, done, id)
		if _, err := r.q.ExecContext(ctx, query); err != nil {
			return fmt.Errorf("updating revision %d: %w", id, err)
		}
		return nil
	}
	p := r.d.placeholder
	query := fmt.Sprintf("UPDATE %s SET status = %s, statements_done = %s, finished_at = %s, error = %s WHERE id = %s",
		RevisionTable, p(1), p(2), p(3), p(4), p(5))
	if _, err := r.q.ExecContext(ctx, query, status, done, finishedArg(finished), errText, id); err != nil {
		return fmt.Errorf("updating revision %d: %w", id, err)
	}
	return nil
}

// Succeeded returns the succeeded revision of a plan hash, or nil.
func (r *Revisions) Succeeded(ctx context.Context, hash string) (*Revision, error) {
	revs, err := r.list(ctx, " WHERE plan_hash = "+r.d.placeholder(1)+" AND status = "+r.d.placeholder(2), hash, RevisionSucceeded)
	if err != nil || len(revs) == 0 {
		return nil, err
	}
	return revs[0], nil
}

// All returns every revision, oldest first.
func (r *Revisions) All(ctx context.Context) ([]*Revision, error) {
	return r.list(ctx, "")
}

// WithHash returns the revisions of a plan hash in a status, oldest first.
func (r *Revisions) WithHash(ctx context.Context, hash, status string) ([]*Revision, error) {
	return r.list(ctx, " WHERE plan_hash = "+r.d.placeholder(1)+" AND status = "+r.d.placeholder(2), hash, status)
}

// RunningOf returns the revisions of object still running, oldest first:
// an apply in flight, or one cut short before it recorded its end.
func (r *Revisions) RunningOf(ctx context.Context, object string) ([]*Revision, error) {
	return r.list(ctx, " WHERE object = "+r.d.placeholder(1)+" AND status = "+r.d.placeholder(2), object, RevisionRunning)
}

// AppliedScripts returns the scripts of succeeded revisions and of the
// committed steps of rolling applies, keyed by name and checksum.
func (r *Revisions) AppliedScripts(ctx context.Context) (map[ScriptRecord]bool, error) {
	revs, err := r.list(ctx, " WHERE status IN ("+r.d.placeholder(1)+", "+r.d.placeholder(2)+")", RevisionSucceeded, RevisionCheckpoint)
	if err != nil {
		return nil, err
	}
	applied := map[ScriptRecord]bool{}
	for _, rev := range revs {
		for _, s := range rev.Scripts {
			applied[s] = true
		}
	}
	return applied, nil
}

func (r *Revisions) list(ctx context.Context, where string, args ...any) ([]*Revision, error) {
	if ok, err := r.exists(ctx); err != nil || !ok {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, "SELECT "+revisionColumns+" FROM "+RevisionTable+where+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", RevisionTable, err)
	}
	defer func() { _ = rows.Close() }()
	var revs []*Revision
	for rows.Next() {
		var (
			rev      Revision
			scripts  string
			finished sql.NullTime
		)
		if err := rows.Scan(&rev.ID, &rev.PlanHash, &rev.Object, &scripts, &rev.Approver, &rev.StartedAt, &finished, &rev.Status, &rev.Done, &rev.Total, &rev.Error); err != nil {
			return nil, fmt.Errorf("reading %s: %w", RevisionTable, err)
		}
		if finished.Valid {
			rev.FinishedAt = &finished.Time
		}
		var records []ScriptRecord
		if err := json.Unmarshal([]byte(scripts), &records); err != nil {
			return nil, fmt.Errorf("reading %s: revision %d: scripts: %w", RevisionTable, rev.ID, err)
		}
		rev.Scripts = []ScriptRecord{}
		for _, r := range records {
			if strings.HasPrefix(r.Name, PinPrefix) {
				rev.Pins = append(rev.Pins, r)
			} else {
				rev.Scripts = append(rev.Scripts, r)
			}
		}
		revs = append(revs, &rev)
	}
	return revs, errors.Join(rows.Err())
}

func finishedArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func nonNil(s []ScriptRecord) []ScriptRecord {
	if s == nil {
		return []ScriptRecord{}
	}
	return s
}
