package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// The markers around the part of docs/performance.md that make bench
// writes; the prose outside them is kept as it is.
const (
	beginMarker = "<!-- make bench writes from here to the end marker; edits inside are lost -->"
	endMarker   = "<!-- end of what make bench writes -->"
)

// writeDoc replaces the generated section of the document with this run's
// figures.
func writeDoc(file string, m *machine, s sizes, rows []row, figs []figure) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	text := string(data)
	begin, end := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if begin < 0 || end < begin {
		return errors.New(file + " has no generated section: put the begin and end markers where the figures go")
	}
	section := beginMarker + "\n\n" + figuresSection(m, s, rows, figs) + "\n" + endMarker
	out := text[:begin] + section + text[end+len(endMarker):]
	return os.WriteFile(file, []byte(out), 0o644)
}

func figuresSection(m *machine, s sizes, rows []row, figs []figure) string {
	var b strings.Builder
	mode := "full sizes"
	if s.quick {
		mode = "quick mode (BENCH_QUICK=1): smaller inputs than the goals are stated for"
	}
	fmt.Fprintf(&b, "Measured by `make bench` on %s (UTC), %s, in %s.\n\n", m.date.Format("2006-01-02 15:04"), mode, m.took.Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %d cores (%s), %s of memory; load average %s (1, 5, 15 minutes) at the start, %s at the end, shared with other jobs.\n",
		m.cores, m.cpu, m.memory, m.loadStart, m.loadEnd)
	fmt.Fprintf(&b, "- Servers: PostgreSQL %s, MariaDB %s; SQLite through modernc.org/sqlite %s.\n", m.postgres, m.mariadb, m.sqlite)
	fmt.Fprintf(&b, "- Baseline clients: %s; %s; sqlite3 %s.\n", m.psql, m.mysql, m.sqlite3)
	fmt.Fprintf(&b, "- Go: %s.\n\n", m.goVersion)
	b.WriteString(markdownTable(rows))
	b.WriteString("\nA ratio is ours over the baseline's, both measured in the same iteration; " +
		"for the writer's stall it is the stall under the shadow-table change over the stall under ALTER TABLE. " +
		"A row of more than one run is the run whose ratio (for the handler's p99 and the writer's stall, whose figure) " +
		"is the median of its runs, shown whole: its figures are that run's; the last column gives the least and the most that ratio (or figure) was in its runs. " +
		"The writer plots are the last run's; the plan plot shows each side's median.\n")
	for _, f := range figs {
		fmt.Fprintf(&b, "\n![%s](%s)\n", f.caption, f.file)
	}
	return b.String()
}
