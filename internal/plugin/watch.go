package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// ErrMigrationFailed is what following a migration that failed, or that
// policy blocked, ends with: a script waiting on it should stop.
var ErrMigrationFailed = errors.New("the migration did not succeed")

// done says whether a migration has reached a phase it leaves only when a
// person changes something: Succeeded, Failed or Blocked, for the spec as
// it is now (a phase observed for an older generation is about to change).
func done(dbm *dbv1.DatabaseMigration) bool {
	switch dbm.Status.Phase {
	case dbv1.PhaseSucceeded, dbv1.PhaseFailed, dbv1.PhaseBlocked:
		return current(dbm)
	}
	return false
}

// followMigration watches dbm until it is done, printing each change of phase, the
// progress of its apply and the statement it runs. It returns nil once the
// migration succeeded, ErrMigrationFailed once it failed or was blocked.
func followMigration(ctx context.Context, c client.WithWatch, dbm *dbv1.DatabaseMigration, f *follower) error {
	f.show(dbm)
	for !done(dbm) {
		next, err := watchOnce(ctx, c, dbm, f)
		if err != nil {
			f.end()
			return err
		}
		dbm = next
	}
	f.end()
	if dbm.Status.Phase != dbv1.PhaseSucceeded {
		return fmt.Errorf("%w: %s/%s is %s: %s", ErrMigrationFailed, dbm.Namespace, dbm.Name, dbm.Status.Phase, dbm.Status.Message)
	}
	return nil
}

// watchOnce watches dbm from the version it holds until it is done or the
// watch ends (API servers end watches after a while), and returns the
// last version seen, read again when the watch ended on an error.
func watchOnce(ctx context.Context, c client.WithWatch, dbm *dbv1.DatabaseMigration, f *follower) (*dbv1.DatabaseMigration, error) {
	w, err := c.Watch(ctx, &dbv1.DatabaseMigrationList{}, &client.ListOptions{
		Namespace:     dbm.Namespace,
		FieldSelector: fields.OneTermEqualSelector("metadata.name", dbm.Name),
		Raw:           &metav1.ListOptions{ResourceVersion: dbm.ResourceVersion},
	})
	if err != nil {
		return nil, fmt.Errorf("watching databasemigration %s/%s: %w", dbm.Namespace, dbm.Name, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return dbm, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return nil, fmt.Errorf("databasemigration %s/%s was deleted", dbm.Namespace, dbm.Name)
			case watch.Error:
				// An expired resourceVersion, most often: start again
				// from the object as it is now.
				fresh := &dbv1.DatabaseMigration{}
				if err := c.Get(ctx, client.ObjectKeyFromObject(dbm), fresh); err != nil {
					return nil, err
				}
				f.show(fresh)
				return fresh, nil
			case watch.Added, watch.Modified:
				next, ok := ev.Object.(*dbv1.DatabaseMigration)
				if !ok {
					continue
				}
				f.show(next)
				if done(next) {
					return next, nil
				}
				dbm = next
			}
		}
	}
}

// follower prints what changes in a migration as it is followed: a line
// per change of phase (or of its reason and message), and the progress of
// the apply, redrawn in place on a terminal, a new line per change when
// piped.
type follower struct {
	out io.Writer
	pal palette
	now func() time.Time
	// phase and progress are what was printed last.
	phase, progress string
	// open is true while a progress line on the terminal has no newline.
	open bool
}

func newFollower(out io.Writer) *follower {
	return &follower{out: out, pal: paletteFor(out), now: time.Now}
}

func (f *follower) show(dbm *dbv1.DatabaseMigration) {
	s := dbm.Status
	if phase := string(s.Phase) + "\x00" + s.Reason + "\x00" + s.Message; phase != f.phase {
		f.phase = phase
		f.progress = ""
		f.end()
		fmt.Fprintf(f.out, "%s  %s  %s\n", f.now().Format("15:04:05"), f.pal.phase(s.Phase), abbreviate(s.Message, 160))
	}
	progress := progressLine(dbm, f.pal)
	if progress == "" || progress == f.progress {
		return
	}
	f.progress = progress
	if f.pal.tty {
		// Back to the start of the line, clear it, draw it anew.
		fmt.Fprint(f.out, "\r\x1b[K          "+progress)
		f.open = true
		return
	}
	fmt.Fprintln(f.out, "          "+progress)
}

// end finishes a progress line left open on the terminal.
func (f *follower) end() {
	if f.open {
		fmt.Fprintln(f.out)
		f.open = false
	}
}

// progressLine is the apply's progress as a bar and what it is at: the
// rows of a shadow-table copy, the steps of a rolling apply, or the
// statements of any other; "" when nothing is being applied.
func progressLine(dbm *dbv1.DatabaseMigration, pal palette) string {
	s := dbm.Status
	if s.Phase != dbv1.PhaseRunning && s.Phase != dbv1.PhaseRollingBack {
		return ""
	}
	if st := s.ShadowTable; st != nil && st.TotalRows > 0 && st.RowsProcessed < st.TotalRows {
		return bar(pal, st.RowsProcessed, st.TotalRows) + fmt.Sprintf(" %d/%d rows copied to %s", st.RowsProcessed, st.TotalRows, st.Name)
	}
	if bg := s.BlueGreen; bg != nil && bg.RowsCopied > 0 && dbm.Status.Reason == dbv1.ReasonCloning {
		return fmt.Sprintf("%d rows copied to the green database %s", bg.RowsCopied, bg.GreenDatabase)
	}
	if r := s.Rolling; r != nil && r.TotalSteps > 0 {
		line := bar(pal, int64(r.CurrentStep), int64(r.TotalSteps)) + fmt.Sprintf(" step %d/%d", r.CurrentStep, r.TotalSteps)
		if r.CurrentScript != "" {
			line += " (" + r.CurrentScript + ")"
		}
		return line + atStatement(s.Progress)
	}
	if p := s.Progress; p != nil && p.TotalSteps > 0 {
		return bar(pal, int64(p.CompletedSteps), int64(p.TotalSteps)) + fmt.Sprintf(" %d/%d statements", p.CompletedSteps, p.TotalSteps) + atStatement(p)
	}
	return ""
}

// atStatement is the statement an apply runs, as status reports it.
func atStatement(p *dbv1.ProgressInfo) string {
	if p == nil || p.CurrentStep == "" {
		return ""
	}
	return ": " + abbreviate(p.CurrentStep, 80)
}

// barWidth is how many cells a progress bar has.
const barWidth = 24

func bar(pal palette, done, total int64) string {
	n := int(done * barWidth / total)
	n = max(0, min(n, barWidth))
	return "[" + pal.paint(green, strings.Repeat("#", n)) + strings.Repeat("-", barWidth-n) + "]"
}
