package main

import (
	"strings"
	"testing"
)

// The row of a benchmark run three times is the run whose ratio is the
// median, whole: its two sides are that run's, not each side's median.
func TestTableRowIsTheMedianRunWhole(t *testing.T) {
	r := results{}
	parseLines(t, r,
		"BenchmarkApplyScript/postgres-2 1 700000000 ns/op 700 ours-ms/op 800 client-ms/op", // 0.875
		// A run that printed a line of its own before its results.
		"BenchmarkApplyScript/postgres-2   \t[controller-runtime] log.SetLogger(...) was never called",
		"       1\t900000000 ns/op 900 ours-ms/op 600 client-ms/op",                            // 1.5
		"BenchmarkApplyScript/postgres-2 1 1000000000 ns/op 1000 ours-ms/op 1000 client-ms/op", // 1.0
		"BenchmarkShadowUnderWriter/mysql-2 1 5 ns/op 40 writer-max-stall-ms 2000 alter-writer-max-stall-ms 9 max-lock-ms 20 idle-writer-max-stall-ms 35 copy-writer-max-stall-ms 8 writer-p99-ms 2 idle-writer-p99-ms",
		"BenchmarkShadowUnderWriter/mysql-2 1 5 ns/op 70 writer-max-stall-ms 1500 alter-writer-max-stall-ms 12 max-lock-ms 5 idle-writer-max-stall-ms 50 copy-writer-max-stall-ms 12 writer-p99-ms 3 idle-writer-p99-ms",
		"BenchmarkShadowUnderWriter/mysql-2 1 5 ns/op 45 writer-max-stall-ms 2500 alter-writer-max-stall-ms 30 max-lock-ms 30 idle-writer-max-stall-ms 41 copy-writer-max-stall-ms 10 writer-p99-ms 2.5 idle-writer-p99-ms",
	)
	rows := tableRows(sizes{statements: 10_000, rows: 1_000_000}, r)
	if len(rows) != 5 {
		t.Fatalf("want 5 rows, got %d: %+v", len(rows), rows)
	}
	apply := rows[0]
	if apply.ours != 1000 || apply.base != 1000 || apply.ratio != 1 || apply.runs != 3 || !apply.met {
		t.Errorf("apply row = %+v, want the run of ratio 1.0 (1000 ms against 1000 ms) of 3", apply)
	}
	stall := rows[1]
	if stall.stall != 45 || stall.base != 2500 || stall.lock != 30 || stall.met {
		t.Errorf("stall row = %+v, want the run of the median stall, 45 ms, with its own lock of 30 ms (goal missed)", stall)
	}
	if got, want := apply.cells()[8], "3: 0.88–1.50"; got != want {
		t.Errorf("apply row's runs = %q, want %q: the least and the most ratio", got, want)
	}
	if got, want := stall.cells()[8], "3: 40.00 ms–70.00 ms"; got != want {
		t.Errorf("stall row's runs = %q, want %q: the least and the most stall", got, want)
	}
	if idle := rows[2]; idle.ours != 20 || idle.base != 40 || !idle.info {
		t.Errorf("idle writer row = %+v, want the median idle stall's run, 20 ms, against its 40 ms during the change", idle)
	}
	if p99 := rows[3]; p99.ours != 10 || p99.base != 2.5 || !p99.info {
		t.Errorf("p99 row = %+v, want the median p99's run, 10 ms, against its 2.5 ms with nothing else running", p99)
	}
	if copied := rows[4]; copied.ours != 41 || copied.base != 45 || !copied.info {
		t.Errorf("plain copy row = %+v, want the median stall's run, 41 ms, against its 45 ms during the change", copied)
	}
	if v, ok := r.get("BenchmarkApplyScript/postgres", "client-ms/op"); !ok || v != 800 {
		t.Errorf("get = %v, %v; want the median of the baseline's runs, 800", v, ok)
	}
}

func parseLines(t *testing.T, r results, lines ...string) {
	t.Helper()
	var text string
	for _, l := range lines {
		text += l + "\n"
	}
	if err := parse(strings.NewReader(text), r); err != nil {
		t.Fatal(err)
	}
}

func TestAdmissionRowsShowTheFloorsHandlerBesideOurs(t *testing.T) {
	r := results{}
	parseLines(t, r,
		"BenchmarkAdmission-2 1 5 ns/op 500 A-creates/s 350 B-creates/s 0.7 B/A-throughput 6 validate-handler-p99-ms 4.5 D-validate-handler-p99-ms 0.3 serial-handler-p99-ms",
		"BenchmarkAdmission-2 1 5 ns/op 500 A-creates/s 300 B-creates/s 0.6 B/A-throughput 5 validate-handler-p99-ms 3.5 D-validate-handler-p99-ms 0.25 serial-handler-p99-ms",
		"BenchmarkAdmission-2 1 5 ns/op 500 A-creates/s 400 B-creates/s 0.8 B/A-throughput 7 validate-handler-p99-ms 5.5 D-validate-handler-p99-ms 0.35 serial-handler-p99-ms",
	)
	var ours, floor *row
	for _, x := range tableRows(sizes{}, r) {
		switch {
		case x.what == "admission, 50 clients: validating handler p99":
			ours = &x
		case strings.HasPrefix(x.what, "admission, 50 clients: p99 of the design floor's validating handler"):
			floor = &x
		}
	}
	if ours == nil || floor == nil {
		t.Fatalf("rows: ours %v, the floor's %v; want both", ours, floor)
	}
	if ours.ours != 6 || ours.met {
		t.Errorf("our handler's row = %+v, want the median run's 6 ms, the goal missed", *ours)
	}
	if floor.ours != 4.5 || floor.base != 0.3 || !floor.info {
		t.Errorf("the floor's row = %+v, want the median run's 4.5 ms against our handlers alone, 0.3 ms", *floor)
	}
}
