package plugin

import (
	"io"
	"os"

	"golang.org/x/term"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// palette colours what the verbs print for a person at a terminal. Output
// piped into a file or another program stays plain, and so does a
// terminal whose user set NO_COLOR (no-color.org) or whose TERM is dumb:
// escapes there are noise a reader or a grep has to get past.
type palette struct {
	on bool
	// tty is true when out is a terminal, colours or not: a progress
	// line is then redrawn in place rather than printed again.
	tty bool
}

// paletteFor is the palette for writing to out.
func paletteFor(out io.Writer) palette {
	f, ok := out.(interface{ Fd() uintptr })
	tty := ok && term.IsTerminal(int(f.Fd()))
	return palette{tty: tty, on: tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"}
}

// SGR codes of the colours used, all of one length: a table column of
// painted cells then lines up, as every cell carries escapes as long.
const (
	redBold = "1;31"
	green   = "0;32"
	yellow  = "0;33"
	cyan    = "0;36"
)

func (p palette) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// severity colours a finding's marker by how much it matters.
func (p palette) severity(s dbv1.DiagnosticSeverity, text string) string {
	switch s {
	case dbv1.SeverityError:
		return p.paint(redBold, text)
	case dbv1.SeverityWarning:
		return p.paint(yellow, text)
	}
	return p.paint(cyan, text)
}

// alarm is what a reviewer must not miss: a destructive plan, a plan that
// cannot be shown whole.
func (p palette) alarm(text string) string { return p.paint(redBold, text) }

// phase colours a phase by what it asks of a person: green done, red
// failed or refused, yellow waiting for someone.
func (p palette) phase(ph dbv1.MigrationPhase) string {
	switch ph {
	case dbv1.PhaseSucceeded:
		return p.paint(green, string(ph))
	case dbv1.PhaseFailed, dbv1.PhaseBlocked, dbv1.PhaseRollingBack:
		return p.paint(redBold, string(ph))
	case dbv1.PhaseAwaitingApproval, dbv1.PhaseAwaitingSwitch:
		return p.paint(yellow, string(ph))
	}
	return p.paint(cyan, orNone(string(ph)))
}
