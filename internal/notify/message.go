package notify

import (
	"fmt"
	"strings"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// maxChanges is how many lines of the plan's change summary a message
// quotes.
const maxChanges = 5

// Message is what a notification says: the object, where it stands, and
// the plan in short. It carries nothing from a Secret, and of the database
// only its type, host and name.
type Message struct {
	Namespace, Name string
	Phase           dbv1.MigrationPhase
	Reason, Text    string
	PlanHash        string
	Statements      int
	Destructive     bool
	// Changes are the plan's first change lines, and "and N more".
	Changes []string
	// Database is type, host and database name.
	Database string
}

// MessageFor builds the message of dbm's current phase.
func MessageFor(dbm *dbv1.DatabaseMigration) Message {
	m := Message{
		Namespace: dbm.Namespace, Name: dbm.Name,
		Phase: dbm.Status.Phase, Reason: dbm.Status.Reason, Text: dbm.Status.Message,
		Database: databaseOf(dbm),
	}
	if p := dbm.Status.Plan; p != nil {
		m.PlanHash, m.Statements, m.Destructive = p.Hash, len(p.Statements), p.Destructive
		m.Changes = p.Changes
		if len(m.Changes) > maxChanges {
			m.Changes = append(append([]string{}, p.Changes[:maxChanges]...), fmt.Sprintf("and %d more", len(p.Changes)-maxChanges))
		}
	}
	return m
}

// databaseOf names the database as a reader knows it: type, name and
// host, and nothing else of spec.database (not its Secret, not its port
// or TLS mode), so a message never hints at credentials.
func databaseOf(dbm *dbv1.DatabaseMigration) string {
	if ref := dbm.Spec.TargetRef; ref != nil {
		return ref.ID(dbm.Namespace).String()
	}
	if dbm.Spec.Database == nil {
		return "no database"
	}
	db := dbm.Spec.Database
	if db.Host == "" {
		return fmt.Sprintf("%s %s", db.Type, db.Database)
	}
	return fmt.Sprintf("%s %s on %s", db.Type, db.Database, db.Host)
}

// Subject is a one-line summary.
func (m Message) Subject() string {
	return fmt.Sprintf("[kube-shift] %s/%s %s", m.Namespace, m.Name, m.Phase)
}

// Body is the plain-text message.
func (m Message) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "DatabaseMigration %s/%s is %s", m.Namespace, m.Name, m.Phase)
	if m.Reason != "" {
		fmt.Fprintf(&b, " (%s)", m.Reason)
	}
	b.WriteString(".\n")
	if m.Text != "" {
		fmt.Fprintf(&b, "%s\n", m.Text)
	}
	fmt.Fprintf(&b, "Database: %s\n", m.Database)
	if m.PlanHash != "" {
		destructive := ""
		if m.Destructive {
			destructive = ", destructive"
		}
		fmt.Fprintf(&b, "Plan %s: %d statement(s)%s\n", m.PlanHash, m.Statements, destructive)
	}
	for _, c := range m.Changes {
		fmt.Fprintf(&b, "  - %s\n", c)
	}
	if m.Phase == dbv1.PhaseAwaitingApproval {
		fmt.Fprintf(&b, "Review it with: kubectl shift status %s -n %s\n", m.Name, m.Namespace)
	}
	return b.String()
}

// notified are the phases a message is sent for.
var notified = map[dbv1.MigrationPhase]bool{
	dbv1.PhaseAwaitingApproval: true,
	dbv1.PhaseSucceeded:        true,
	dbv1.PhaseFailed:           true,
	dbv1.PhaseRollingBack:      true,
}
