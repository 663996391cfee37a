package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// sizes are how large the benchmarks' inputs are in this run.
type sizes struct {
	quick      bool
	rows       int
	statements int
	tables     []int
}

func sizesFromEnv() sizes {
	s := sizes{rows: 1_000_000, statements: 10_000, tables: []int{200, 2000}}
	if q, _ := strconv.ParseBool(os.Getenv("BENCH_QUICK")); q {
		s = sizes{quick: true, rows: 100_000, statements: 2_000, tables: []int{100, 400}}
	}
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROWS")); err == nil && n > 0 {
		s.rows = n
	}
	if n, err := strconv.Atoi(os.Getenv("BENCH_STATEMENTS")); err == nil && n > 1 {
		s.statements = n
	}
	if v := os.Getenv("BENCH_TABLES"); v != "" {
		var tables []int
		for _, f := range strings.Split(v, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
				tables = append(tables, n)
			}
		}
		if len(tables) > 0 {
			s.tables = tables
		}
	}
	return s
}

// env is what the benchmarks read of the sizes.
func (s sizes) env() []string {
	tables := make([]string, len(s.tables))
	for i, n := range s.tables {
		tables[i] = strconv.Itoa(n)
	}
	return []string{
		"BENCH_ROWS=" + strconv.Itoa(s.rows),
		"BENCH_STATEMENTS=" + strconv.Itoa(s.statements),
		"BENCH_TABLES=" + strings.Join(tables, ","),
	}
}

// suite is one `go test -bench` run.
type suite struct {
	name  string
	pkg   string
	bench string
	env   []string
}

func suites(s sizes, traces string) []suite {
	env := s.env()
	return []suite{
		{"admission", "./webhooks/v1alpha1", "^BenchmarkAdmission$", env},
		{"plan", "./internal/planner", "^BenchmarkPlanTables$", env},
		{"apply", "./internal/planner", "^BenchmarkApplyScript$", env},
		{"blue-green", "./internal/bluegreen", "^BenchmarkCloneVsDump$", env},
		{"shadow-table", "./internal/shadow", "^BenchmarkShadow(VsAlter|UnderWriter)$", append(env, "BENCH_WRITER_TRACE="+traces)},
	}
}

// results are the metrics of every benchmark run, by name without the
// GOMAXPROCS suffix ("BenchmarkPlanTables/tables=200/sqlite"), by unit.
type results map[string]map[string]float64

// get is a metric, and whether the benchmark reported it.
func (r results) get(name, unit string) (float64, bool) {
	v, ok := r[name][unit]
	return v, ok
}

// benchLine is a result line of `go test -bench`: name, iterations, then
// value and unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// run runs the suite under nice, its output passed on to stderr as it
// comes, and adds its results.
func (s suite) run(root string, into results) error {
	args := []string{"-n", "10", "go", "test", s.pkg, "-run", "^$", "-bench", s.bench, "-benchtime", "1x", "-count", "1", "-timeout", "60m"}
	fmt.Fprintf(os.Stderr, "== %s: go test %s -bench '%s'\n", s.name, s.pkg, s.bench)
	cmd := exec.Command("nice", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	parseErr := parse(io.TeeReader(out, os.Stderr), into)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("go test: %w", err)
	}
	return parseErr
}

func parse(r io.Reader, into results) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", m[1], fields[i])
			}
			metrics[fields[i+1]] = v
		}
		into[m[1]] = metrics
	}
	return sc.Err()
}
