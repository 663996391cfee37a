// Command fleetbench measures a fleet rollout at scale: one
// DatabaseMigrationSet over N SQLite tenant DatabaseTargets, on an envtest
// API server with the manager's reconcilers in this process. It prints
//
//	planned_s   from the set's creation until every tenant is planned and
//	            the set awaits approval (plans grouped)
//	applied_s   from the fleet's approval until every tenant applied
//	peak_mib    this process's peak resident memory (VmHWM): the
//	            reconcilers, their caches and the SQLite work
//
//	go run ./hack/fleetbench -tenants 1000 -parallel 16
//
// It needs KUBEBUILDER_ASSETS (hack/envtest-assets.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/controller"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

// profile is where to write a CPU profile of the rollout; none when empty.
var profile string

const (
	namespace = "fleet-bench"
	schema    = "CREATE TABLE users (id integer PRIMARY KEY, email text)"
	desired   = "CREATE TABLE users (id integer PRIMARY KEY, email text, age integer);\nCREATE UNIQUE INDEX users_email ON users (email);"
)

func main() {
	tenants := flag.Int("tenants", 1000, "SQLite tenant targets")
	parallel := flag.Int("parallel", 16, "the set's rollout.maxParallel")
	workers := flag.Int("reconcilers", 4, "DatabaseMigrations reconciled at once (--max-concurrent-reconciles)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the rollout (after the approval) to this file")
	flag.Parse()
	profile = *cpuprofile
	logf.SetLogger(logf.Log.WithSink(logf.NullLogSink{}))
	if err := run(*tenants, *parallel, *workers, *timeout); err != nil {
		log.Fatal(err)
	}
}

func run(tenants, parallel, workers int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := dbv1.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fleetbench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting envtest (run from the repository root, with KUBEBUILDER_ASSETS): %w", err)
	}
	defer func() { _ = env.Stop() }()
	// The API server is another process: its own limits are raised so
	// the manager, not the client, is what is measured.
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	targets := &controller.Targets{Reader: mgr.GetClient(), SQLiteRoot: dir}
	reconciler := &controller.DatabaseMigrationReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("kube-shift"), Targets: targets,
		Migrator: controller.NewMigrator(targets, planner.Planner{}),
	}
	if err := reconciler.SetupWithManager(ctx, mgr, workers); err != nil {
		return err
	}
	if err := (&controller.DatabaseMigrationSetReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("kube-shift")}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&controller.TargetReconciler{Client: mgr.GetClient(), Targets: targets}).SetupWithManager(mgr); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			log.Print(err)
		}
	}()

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	setupStart := time.Now()
	for i := range tenants {
		name := fmt.Sprintf("tenant-%04d", i)
		path := filepath.Join(dir, name+".db")
		if err := seed(ctx, path, i); err != nil {
			return err
		}
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": "shop"}},
			Spec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypeSQLite, Database: path}}
		if err := c.Create(ctx, dt); err != nil {
			return err
		}
	}
	fmt.Printf("setup_s    %.1f  (%d SQLite tenants and their DatabaseTargets)\n", time.Since(setupStart).Seconds(), tenants)

	set := &dbv1.DatabaseMigrationSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "add-age"},
		Spec: dbv1.DatabaseMigrationSetSpec{
			Template: dbv1.MigrationTemplate{Migration: dbv1.MigrationConfig{
				Strategy:      dbv1.MigrationStrategyTransactional,
				DesiredSchema: &dbv1.DesiredSchema{Source: "inline", SQL: desired, Format: dbv1.SchemaFormatSQL},
			}},
			TargetSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Rollout:        dbv1.Rollout{MaxParallel: int32(parallel)},
		},
	}
	start := time.Now()
	if err := c.Create(ctx, set); err != nil {
		return err
	}
	if err := waitFor(ctx, c, set, func(s *dbv1.DatabaseMigrationSet) bool {
		return s.Status.Phase == dbv1.SetAwaitingApproval && s.Status.Counts.Unapproved == int32(tenants)
	}); err != nil {
		return err
	}
	planned := time.Since(start)
	fmt.Printf("planned_s  %.1f  (%d tenants in %d plan groups, awaiting approval)\n", planned.Seconds(), set.Status.Counts.Total, len(set.Status.Plans))

	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start = time.Now()
	patch := client.MergeFrom(set.DeepCopy())
	set.Annotations = map[string]string{dbv1.AnnotationApprovedFleet: set.Status.FleetHash, dbv1.AnnotationApprovedFleetBy: "bench"}
	if err := c.Patch(ctx, set, patch); err != nil {
		return err
	}
	if err := waitFor(ctx, c, set, func(s *dbv1.DatabaseMigrationSet) bool { return s.Status.Phase == dbv1.SetSucceeded }); err != nil {
		return err
	}
	applied := time.Since(start)
	fmt.Printf("applied_s  %.1f  (%d tenants, maxParallel %d)\n", applied.Seconds(), set.Status.Counts.Succeeded, parallel)
	fmt.Printf("peak_mib   %d\n", peakRSS()/1024)
	return nil
}

// seed makes a tenant's database.
func seed(ctx context.Context, path string, i int) error {
	t, err := database.ParseURL("sqlite://" + path)
	if err != nil {
		return err
	}
	db, err := t.Open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf("INSERT INTO users VALUES (1, 'a%d@example.com')", i))
	return err
}

// waitFor polls the set until done says so, printing its message now and
// then.
func waitFor(ctx context.Context, c client.Client, set *dbv1.DatabaseMigrationSet, done func(*dbv1.DatabaseMigrationSet) bool) error {
	last := time.Now()
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(set), set); err != nil {
			return err
		}
		if done(set) {
			return nil
		}
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(os.Stderr, "  %s: %s\n", set.Status.Phase, set.Status.Message)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the set (%s: %s): %w", set.Status.Phase, set.Status.Message, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// peakRSS is this process's peak resident set, in KiB.
func peakRSS() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int
			_, _ = fmt.Sscanf(strings.TrimSpace(v), "%d", &kib)
			return kib
		}
	}
	return 0
}
