package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
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

// suite is one `go test -bench` run of count iterations of each
// benchmark it selects.
type suite struct {
	name  string
	pkg   string
	bench string
	count int
	env   []string
}

// repeats is how many times a suite runs its benchmarks, each figure the
// median of those runs, where the machine's noise moves a ratio across
// its goal from one run to the next; planning schemas larger than
// bigPlan, and the apply on SQLite, run once, to stay within the 15
// minutes make bench may take.
const (
	repeats = 3
	bigPlan = 500
)

func suites(s sizes, traces string) []suite {
	env := s.env()
	out := []suite{{"admission", "./webhooks/v1alpha1", "^BenchmarkAdmission$", repeats, env}}
	for _, n := range s.tables {
		count := repeats
		if n > bigPlan {
			count = 1
		}
		out = append(out, suite{"plan", "./internal/planner", fmt.Sprintf("^BenchmarkPlanTables$/^tables=%d$", n), count, env})
	}
	return append(out,
		suite{"apply", "./internal/planner", "^BenchmarkApplyScript$/^(postgres|mysql)$", repeats, env},
		// sqlite3 commits each of the script's statements on its own,
		// 12 s of the pair's 13 s, a hundred times ours: once is enough.
		suite{"apply", "./internal/planner", "^BenchmarkApplyScript$/^sqlite$", 1, env},
		suite{"blue-green", "./internal/bluegreen", "^BenchmarkCloneVsDump$", repeats, env},
		suite{"shadow-table", "./internal/shadow", "^BenchmarkShadow(VsAlter|UnderWriter)$", repeats, append(env, "BENCH_WRITER_TRACE="+traces)},
	)
}

// results are the metrics of every run of every benchmark, by name
// without the GOMAXPROCS suffix ("BenchmarkPlanTables/tables=200/sqlite"),
// each run's by unit, in the order they ran.
type results map[string][]map[string]float64

// median is the benchmark's run whose key is the median of its runs' (the
// lower of the middle two for an even count), with its other metrics as
// they were in that run: a ratio stays the ratio of the two sides shown
// beside it. It also says how many runs there were.
func (r results) median(name string, key func(map[string]float64) float64) (map[string]float64, int) {
	runs := slices.Clone(r[name])
	if len(runs) == 0 {
		return nil, 0
	}
	slices.SortStableFunc(runs, func(a, b map[string]float64) int { return cmp.Compare(key(a), key(b)) })
	return runs[(len(runs)-1)/2], len(runs)
}

// spread is the least and the most key was over the benchmark's runs.
func (r results) spread(name string, key func(map[string]float64) float64) (low, high float64) {
	for i, run := range r[name] {
		v := key(run)
		if i == 0 {
			low, high = v, v
		}
		low, high = min(low, v), max(high, v)
	}
	return low, high
}

// get is the median of a metric over the benchmark's runs, and whether
// the benchmark reported it.
func (r results) get(name, unit string) (float64, bool) {
	run, n := r.median(name, func(m map[string]float64) float64 { return m[unit] })
	if n == 0 {
		return 0, false
	}
	v, ok := run[unit]
	return v, ok
}

// benchLine is a result line of `go test -bench`: name, iterations, then
// value and unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(\S+ ns/op.*)$`)

// benchName is a line that starts with a benchmark's name; resultsLine is
// a line of results alone: iterations, then value and unit pairs.
var (
	benchName   = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s`)
	resultsLine = regexp.MustCompile(`^\s+\d+\s+(\S+ ns/op.*)$`)
)

// run runs the suite under nice, its output passed on to stderr as it
// comes, and adds its results.
func (s suite) run(root string, into results) error {
	args := []string{"-n", "10", "go", "test", s.pkg, "-run", "^$", "-bench", s.bench, "-benchtime", "1x", "-count", strconv.Itoa(s.count), "-timeout", "60m"}
	fmt.Fprintf(os.Stderr, "== %s: go test %s -bench '%s' -count %d\n", s.name, s.pkg, s.bench, s.count)
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

// parse adds the results of go test's output. A benchmark's name and its
// results are one line, unless the benchmark printed something while it
// ran (controller-runtime's warning about its logger, say): then its
// results come on a line of their own, after its name and what it printed.
func parse(r io.Reader, into results) error {
	sc := bufio.NewScanner(r)
	var name string
	for sc.Scan() {
		line := sc.Text()
		if m := benchName.FindStringSubmatch(line); m != nil {
			name = m[1]
		}
		var measured string
		if m := benchLine.FindStringSubmatch(line); m != nil {
			name, measured = m[1], m[2]
		} else if m := resultsLine.FindStringSubmatch(line); m != nil && name != "" {
			measured = m[1]
		} else {
			continue
		}
		fields := strings.Fields(measured)
		metrics := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", name, fields[i])
			}
			metrics[fields[i+1]] = v
		}
		into[name] = append(into[name], metrics)
	}
	return sc.Err()
}
