package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
)

// row is one line of the table: a measurement of kube-shift's and the
// baseline's, measured in the same run.
type row struct {
	what, unit, baseline string
	ours, base           float64
	// ratio is ours/base unless the benchmark reported its own.
	ratio float64
	goal  string
	met   bool
	// lock and stall are the online strategies' longest lock and the
	// writer's worst stall, in milliseconds; zero when not measured.
	lock, stall float64
	// runs is how many runs the row is the median of, and low and high
	// the least and the most its key (the ratio, or the figure in ms
	// when keyUnit says so) was in them.
	runs      int
	low, high float64
	keyUnit   string
	// info marks a row without a goal of its own, which puts the others
	// in context.
	info bool
}

// engines are the benchmarks' sub-benchmark names, with what a reader
// calls them and their own clients.
var engines = []struct{ key, name, client, dump string }{
	{"sqlite", "SQLite", "sqlite3", ""},
	{"postgres", "PostgreSQL", "psql -f", "pg_dump | psql"},
	{"mysql", "MariaDB", "mysql <", "mysqldump | mysql"},
}

func tableRows(s sizes, r results) []row {
	var rows []row
	// add adds the row made of the benchmark's median run by key, if it
	// ran.
	add := func(name string, key func(map[string]float64) float64, build func(m map[string]float64) row) {
		if m, n := r.median(name, key); n > 0 {
			x := build(m)
			x.runs = n
			x.low, x.high = r.spread(name, key)
			if x.ratio == 0 {
				x.keyUnit = x.unit
			}
			rows = append(rows, x)
		}
	}
	metric := func(unit string) func(map[string]float64) float64 {
		return func(m map[string]float64) float64 { return m[unit] }
	}
	ratio := func(ours, base string) func(map[string]float64) float64 {
		return func(m map[string]float64) float64 { return m[ours] / m[base] }
	}

	const adm = "BenchmarkAdmission"
	add(adm, metric("B/A-throughput"), func(m map[string]float64) row {
		r := m["B/A-throughput"]
		return row{what: "admission, 50 clients: creates per second with the webhooks", unit: "/s", baseline: "without webhooks",
			ours: m["B-creates/s"], base: m["A-creates/s"], ratio: r, goal: "≥ 0.8", met: r >= 0.8}
	})
	add(adm, metric("C/A-throughput"), func(m map[string]float64) row {
		return row{what: "admission, 50 clients: creates per second with one webhook that allows all unread (the most any webhook reaches here)",
			unit: "/s", baseline: "without webhooks", ours: m["C-creates/s"], base: m["A-creates/s"], ratio: m["C/A-throughput"], goal: "—", info: true}
	})
	add(adm, metric("D/A-throughput"), func(m map[string]float64) row {
		return row{what: "admission, 50 clients: creates per second with a mutating webhook that stamps every create and a validating one that allows it, both unread (the design's floor here)",
			unit: "/s", baseline: "without webhooks", ours: m["D-creates/s"], base: m["A-creates/s"], ratio: m["D/A-throughput"], goal: "—", info: true}
	})
	add(adm, metric("E/A-throughput"), func(m map[string]float64) row {
		return row{what: "admission, 50 clients: creates per second with the same stamps written by a MutatingAdmissionPolicy in the API server, and the validating webhook that allows all unread",
			unit: "/s", baseline: "without webhooks", ours: m["E-creates/s"], base: m["A-creates/s"], ratio: m["E/A-throughput"], goal: "—", info: true}
	})
	add(adm, metric("validate-handler-p99-ms"), func(m map[string]float64) row {
		p99 := m["validate-handler-p99-ms"]
		return row{what: "admission, 50 clients: validating handler p99", unit: "ms", baseline: "handlers alone, p99",
			ours: p99, base: m["serial-handler-p99-ms"], goal: "< 5 ms", met: p99 < 5}
	})
	add(adm, metric("D-validate-handler-p99-ms"), func(m map[string]float64) row {
		return row{what: "admission, 50 clients: p99 of the design floor's validating handler, which answers unread (timed the same way, under the same load)",
			unit: "ms", baseline: "our handlers alone, p99", ours: m["D-validate-handler-p99-ms"], base: m["serial-handler-p99-ms"], goal: "—", info: true}
	})

	for _, n := range s.tables {
		for _, e := range engines {
			add(fmt.Sprintf("BenchmarkPlanTables/tables=%d/%s", n, e.key), ratio("ours-ms/op", "atlas-ms/op"), func(m map[string]float64) row {
				return ratioRow(fmt.Sprintf("plan %s tables, %s", thousands(n), e.name), "Atlas inspect+diff+plan", m["ours-ms/op"], m["atlas-ms/op"], "≤ 1.2", 1.2)
			})
		}
	}
	for _, e := range engines {
		add("BenchmarkApplyScript/"+e.key, ratio("ours-ms/op", "client-ms/op"), func(m map[string]float64) row {
			return ratioRow(fmt.Sprintf("apply %s statements, %s", thousands(s.statements), e.name), e.client, m["ours-ms/op"], m["client-ms/op"], "≤ 1.1", 1.1)
		})
	}
	for _, e := range engines[1:] {
		add("BenchmarkCloneVsDump/"+e.key, ratio("ours-ms/op", "dump-ms/op"), func(m map[string]float64) row {
			return ratioRow(fmt.Sprintf("blue-green copy of %s rows, %s", thousands(s.rows), e.name), e.dump, m["ours-ms/op"], m["dump-ms/op"], "≤ 1.0", 1.0)
		})
	}
	for _, e := range engines[1:] {
		add("BenchmarkShadowVsAlter/"+e.key, ratio("shadow-ms", "alter-ms"), func(m map[string]float64) row {
			x := ratioRow(fmt.Sprintf("shadow-table change of %s rows, %s", thousands(s.rows), e.name), "ALTER TABLE", m["shadow-ms"], m["alter-ms"], "≤ 2.0", 2.0)
			x.lock = m["max-lock-ms"]
			return x
		})
	}
	for _, e := range engines[1:] {
		add("BenchmarkShadowUnderWriter/"+e.key, metric("writer-max-stall-ms"), func(m map[string]float64) row {
			stall, alter, lock := m["writer-max-stall-ms"], m["alter-writer-max-stall-ms"], m["max-lock-ms"]
			return row{what: fmt.Sprintf("writer's worst stall during that change, %s", e.name), unit: "ms", baseline: "during ALTER TABLE",
				ours: stall, base: alter, ratio: stall / alter, goal: "≤ 50 ms, lock ≤ 20 ms", met: stall <= 50 && lock <= 20,
				lock: lock, stall: stall, keyUnit: "ms"}
		})
		// The writer's figures that put the stall in context: each in ms
		// against another of the run's, without a goal.
		for _, c := range []struct{ key, what, baseline, against string }{
			{"idle-writer-max-stall-ms", "writer's worst stall with nothing else running, as long", "during that change", "writer-max-stall-ms"},
			{"writer-p99-ms", "writer's 99th percentile statement during that change", "with nothing else running", "idle-writer-p99-ms"},
			{"copy-writer-max-stall-ms", "writer's worst stall while another table of the same rows is copied and indexed, no trigger (the server's own)",
				"during that change", "writer-max-stall-ms"},
		} {
			add("BenchmarkShadowUnderWriter/"+e.key, metric(c.key), func(m map[string]float64) row {
				return row{what: fmt.Sprintf("%s, %s", c.what, e.name), unit: "ms", baseline: c.baseline,
					ours: m[c.key], base: m[c.against], goal: "—", info: true}
			})
		}
	}
	return rows
}

func ratioRow(what, baseline string, ours, base float64, goal string, limit float64) row {
	ratio := ours / base
	return row{what: what, unit: "ms", baseline: baseline, ours: ours, base: base, ratio: ratio, goal: goal, met: ratio <= limit}
}

// cells are a row's columns as text.
func (x row) cells() []string {
	ratio := "—"
	switch {
	case x.ratio >= 0.1:
		ratio = fmt.Sprintf("%.2f", x.ratio)
	case x.ratio > 0:
		ratio = fmt.Sprintf("%.3f", x.ratio)
	}
	met := "no"
	switch {
	case x.info:
		met = "—"
	case x.met:
		met = "yes"
	}
	ms := func(v float64) string {
		if v == 0 {
			return ""
		}
		return fmt.Sprintf("%.1f ms", v)
	}
	runs := strconv.Itoa(x.runs)
	if x.runs > 1 {
		runs += ": " + x.keyValue(x.low) + "–" + x.keyValue(x.high)
	}
	return []string{x.what, value(x.ours, x.unit), fmt.Sprintf("%s (%s)", value(x.base, x.unit), x.baseline), ratio, x.goal, met,
		ms(x.lock), ms(x.stall), runs}
}

// keyValue writes a value of the row's key as the row writes it.
func (x row) keyValue(v float64) string {
	switch {
	case x.keyUnit != "":
		return value(v, x.keyUnit)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

var header = []string{"what", "ours", "baseline", "ratio", "goal", "met", "longest lock", "writer's worst stall", "runs: least–most"}

func value(v float64, unit string) string {
	switch {
	case unit == "/s":
		return fmt.Sprintf("%.0f/s", v)
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	default:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// textTable is the table for a terminal.
func textTable(rows []row) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, x := range rows {
		fmt.Fprintln(w, strings.Join(x.cells(), "\t"))
	}
	_ = w.Flush()
	return b.String()
}

// markdownTable is the table for docs/performance.md.
func markdownTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|---|---:|---:|---:|---|---|---:|---:|---:|\n")
	for _, x := range rows {
		c := x.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", `\|`)
		}
		if x.ratio > 0 {
			c[3] = "**" + c[3] + "**"
		}
		b.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	return b.String()
}
