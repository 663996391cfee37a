// Command bench runs every kube-shift benchmark against its baseline, side
// by side in one run, prints one table (what, ours, baseline, ratio, the
// goal, and for the online strategies the longest lock and the writer's
// worst stall) and writes it, with the machine, the date, the engine
// versions and two plots, into docs/performance.md. `make bench` runs it.
//
// It is a module of its own so that the plotting library stays out of the
// operator's go.mod. The benchmarks are the Go benchmarks of the main
// module, run with `go test` under nice; the baselines are measured in the
// same iteration as kube-shift's side, so a ratio compares runs on the same
// machine under the same load.
//
//	hack/db-up.sh && source bin/db/env
//	make bench                  # every benchmark at full size
//	BENCH_QUICK=1 make bench    # small sizes, for development
//	BENCH_ONLY=plan make bench  # only the suites whose name matches; prints, writes nothing
//
// BENCH_ROWS sets the rows of the blue-green and shadow-table tables
// (1,000,000; quick 100,000), BENCH_STATEMENTS the apply's script
// (10,000; quick 2,000), BENCH_TABLES the planned schemas' sizes
// ("200,2000"; quick "100,400").
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

func main() {
	root := flag.String("root", ".", "the repository's root")
	write := flag.Bool("write", true, "write docs/performance.md and its plots")
	flag.Parse()
	if err := run(*root, *write); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(root string, write bool) error {
	for _, v := range []string{"KUBE_SHIFT_TEST_POSTGRES_URL", "KUBE_SHIFT_TEST_MYSQL_URL", "KUBE_SHIFT_DEV_DATABASE_POSTGRES", "KUBE_SHIFT_DEV_DATABASE_MYSQL"} {
		if os.Getenv(v) == "" {
			return fmt.Errorf("%s is not set: hack/db-up.sh && source bin/db/env", v)
		}
	}
	sizes := sizesFromEnv()
	only, err := regexp.Compile(os.Getenv("BENCH_ONLY"))
	if err != nil {
		return fmt.Errorf("BENCH_ONLY: %w", err)
	}
	traces, err := os.MkdirTemp("", "kube-shift-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(traces) }()

	m := describeMachine(root)
	start := time.Now()
	results := results{}
	for _, s := range suites(sizes, traces) {
		if !only.MatchString(s.name) {
			continue
		}
		if err := s.run(root, results); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	m.finish(time.Since(start))

	rows := tableRows(sizes, results)
	fmt.Println()
	fmt.Print(textTable(rows))
	if os.Getenv("BENCH_ONLY") != "" {
		// The figures are one run's, whole: a run of some suites does not
		// stand beside the rest of an older one.
		fmt.Println("\nBENCH_ONLY: docs/performance.md left as it was")
		return nil
	}
	if !write {
		return nil
	}
	imgDir := filepath.Join(root, "docs", "performance")
	plots, err := drawPlots(imgDir, sizes, results, traces)
	if err != nil {
		return err
	}
	return writeDoc(filepath.Join(root, "docs", "performance.md"), m, sizes, rows, plots)
}
