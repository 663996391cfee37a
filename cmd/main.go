// Command manager runs the kube-shift controller manager: the
// DatabaseMigration reconciler, the admission webhooks, metrics and probes.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/controller"
	"github.com/mohit-nagaraj/kube-shift/internal/gcpolicy"
	"github.com/mohit-nagaraj/kube-shift/internal/notify"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	"github.com/mohit-nagaraj/kube-shift/internal/webhookserver"
	webhooksv1alpha1 "github.com/mohit-nagaraj/kube-shift/webhooks/v1alpha1"
)

// leaderElectionID is fixed so that every replica of the manager competes for
// the same lease.
const leaderElectionID = "kube-shift.database.mohitnagaraj.in"

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(dbv1.AddToScheme(scheme))
}

type options struct {
	metricsAddr             string
	probeAddr               string
	secureMetrics           bool
	enableHTTP2             bool
	webhookHTTP2            bool
	leaderElect             bool
	leaderElectionNamespace string
	enableWebhooks          bool
	webhookHost             string
	webhookPort             int
	webhookCertDir          string
	metricsCertDir          string
	maxConcurrentReconciles int
	maxConcurrentApplies    int
	replanInterval          time.Duration
	devServers              devServers
	allowAutoApproval       bool
	allowSQL                sqlKinds
	operatorNamespace       string
	requireTargetRef        bool
	requireTrackedSources   bool
	sqliteRoot              string
}

// sqlKinds is the --allow-sql flag: the kinds of statements reaching
// outside a migration's own database that the platform lets through.
type sqlKinds map[sqlstatic.Reach]bool

func (k sqlKinds) String() string {
	var names []string
	for _, r := range sqlstatic.AllReaches {
		if k[r] {
			names = append(names, string(r))
		}
	}
	return strings.Join(names, ",")
}

func (k sqlKinds) Set(v string) error {
	allow, err := sqlstatic.ParseReaches(v)
	if err != nil {
		return err
	}
	maps.Copy(k, allow)
	return nil
}

// devServers is the repeated --dev-database flag: ENGINE=URL.
type devServers map[string]string

func (d devServers) String() string {
	engines := make([]string, 0, len(d))
	for e := range d {
		engines = append(engines, e)
	}
	sort.Strings(engines)
	return strings.Join(engines, ",")
}

func (d devServers) Set(v string) error {
	engine, url, ok := strings.Cut(v, "=")
	switch {
	case !ok || url == "":
		return fmt.Errorf("want ENGINE=URL (postgres=postgres://..., mysql=mysql://...), got %q", engine)
	case engine != "postgres" && engine != "mysql":
		return fmt.Errorf("engine %q has no dev server: want postgres or mysql (SQLite replays in memory)", engine)
	}
	d[engine] = url
	return nil
}

func main() {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "Address of the metrics endpoint (:8443 for HTTPS, :8080 for HTTP, 0 to disable).")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the health and readiness probes.")
	flag.BoolVar(&o.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS behind Kubernetes authentication and authorization.")
	flag.BoolVar(&o.enableHTTP2, "enable-http2", false, "Serve HTTP/2 on the metrics server (off by default: HTTP/2 Rapid Reset and Stream Cancellation).")
	flag.BoolVar(&o.webhookHTTP2, "webhook-http2", true, fmt.Sprintf("Serve HTTP/2 on the webhook server, at most %d requests per connection: on HTTP/1.1 the API server reopens a TLS connection for nearly every call once more than 25 are in flight (see SECURITY.md).", webhookserver.MaxConcurrentStreams))
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles.")
	flag.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader-election Lease (in a cluster: the manager's own namespace).")
	flag.BoolVar(&o.enableWebhooks, "enable-webhooks", true, "Serve the defaulting and validating admission webhooks.")
	flag.StringVar(&o.webhookHost, "webhook-host", "", "Address the webhook server listens on (all interfaces when empty).")
	flag.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	flag.StringVar(&o.webhookCertDir, "webhook-cert-dir", "", "Directory with the webhook server's tls.crt and tls.key; reloaded when they change.")
	flag.StringVar(&o.metricsCertDir, "metrics-cert-dir", "", "Directory with the metrics server's tls.crt and tls.key (self-signed when empty).")
	flag.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 4, "DatabaseMigrations reconciled (planned, checked for drift, their applies started and recorded) at the same time.")
	flag.IntVar(&o.maxConcurrentApplies, "max-concurrent-applies", controller.DefaultMaxConcurrentApplies, "Approved applies running at the same time, apart from the reconciles, so long copies never hold up planning (never two on one database).")
	flag.DurationVar(&o.replanInterval, "replan-interval", 10*time.Minute, "How often a migration is re-planned to detect drift.")
	o.devServers = devServers{}
	flag.Var(o.devServers, "dev-database", "The operator's dev-database server for an engine, as ENGINE=URL (postgres=postgres://user:pass@host:5432/postgres, mysql=mysql://user:pass@host:3306/); repeat per engine. Plans create a scratch database there and drop it; the target's own server is never used to replay scripts. Also read from KUBE_SHIFT_DEV_DATABASE_POSTGRES and KUBE_SHIFT_DEV_DATABASE_MYSQL.")
	flag.BoolVar(&o.allowAutoApproval, "allow-auto-approval", false, "Let spec.policy.approval: auto take effect whoever set it. Off: it takes effect only when a user allowed to approve (RBAC verb approve on databasemigrations) set the policy.")
	o.allowSQL = sqlKinds{}
	kinds := make([]string, len(sqlstatic.AllReaches))
	for i, r := range sqlstatic.AllReaches {
		kinds[i] = string(r)
	}
	flag.Var(o.allowSQL, "allow-sql", "Kinds of SQL statements that reach outside a migration's own database to let through anyway, comma-separated, of: "+
		strings.Join(kinds, ", ")+". By default every such statement is refused, at admission and before anything is replayed on a dev database.")
	zapOpts := zap.Options{Development: false}
	flag.StringVar(&o.operatorNamespace, "operator-namespace", envOr("POD_NAMESPACE", "kube-shift-system"), "The manager's own namespace: a ClusterDatabaseTarget's Secrets are read from it unless the target names another.")
	flag.BoolVar(&o.requireTargetRef, "require-target-ref", false, "Refuse DatabaseMigrations with an inline spec.database: every migration names a DatabaseTarget or ClusterDatabaseTarget the platform team registered.")
	flag.BoolVar(&o.requireTrackedSources, "require-tracked-sources", false, "Refuse approvals of plans whose scripts or desired schema (or a migration's own dev-database Secret) come from a ConfigMap or Secret without the "+dbv1.LabelTrackedSource+" label: the label, set when the object is created, makes kube-shift record who writes it, and none of them may approve.")
	flag.StringVar(&o.sqliteRoot, "sqlite-root", "", "Directory SQLite database files must resolve under, symlinks followed (checked at admission and again before a file is opened). Empty: SQLite files are refused.")
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	for _, engine := range []string{"postgres", "mysql"} {
		if v := os.Getenv("KUBE_SHIFT_DEV_DATABASE_" + strings.ToUpper(engine)); v != "" && o.devServers[engine] == "" {
			o.devServers[engine] = v
		}
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(o); err != nil {
		ctrl.Log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(o options) error {
	log := ctrl.Log.WithName("setup")

	gc, err := gcpolicy.Apply(os.Getenv)
	if err != nil {
		log.Error(err, "garbage collector")
	}
	log.Info("garbage collector", "settings", gc.String())

	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}

	// Both servers watch their CertDir (controller-runtime's certwatcher), so
	// a certificate rotated by cert-manager is picked up without a restart.
	webhookOpts := webhookserver.Options{
		Host: o.webhookHost, Port: o.webhookPort, CertDir: o.webhookCertDir, DisableHTTP2: !o.webhookHTTP2,
	}

	metricsOpts := metricsserver.Options{
		BindAddress:   o.metricsAddr,
		SecureServing: o.secureMetrics,
		TLSOpts:       tlsOpts,
		CertDir:       o.metricsCertDir,
	}
	if o.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		WebhookServer:                 webhookserver.New(webhookOpts),
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return err
	}

	ctx := ctrl.SetupSignalHandler()
	targets := &controller.Targets{
		Reader: mgr.GetClient(), OperatorNamespace: o.operatorNamespace, RequireTargetRef: o.requireTargetRef, SQLiteRoot: o.sqliteRoot,
	}
	reconciler := &controller.DatabaseMigrationReconciler{
		Client:               mgr.GetClient(),
		Recorder:             mgr.GetEventRecorder("kube-shift"),
		Targets:              targets,
		Migrator:             controller.NewMigrator(targets, planner.Planner{DevServers: o.devServers, AllowSQL: o.allowSQL}),
		ReplanInterval:       o.replanInterval,
		AllowAutoApproval:    o.allowAutoApproval,
		MaxConcurrentApplies: o.maxConcurrentApplies,
	}
	// Notifications go out from the manager's own workers, so a dead
	// endpoint never slows a reconcile.
	notifier := notify.New(mgr.GetClient(), notify.Options{OnResult: reconciler.NotificationDelivered})
	if err := mgr.Add(notifier); err != nil {
		return err
	}
	reconciler.Notifier = notifier
	if err := reconciler.SetupWithManager(ctx, mgr, o.maxConcurrentReconciles); err != nil {
		return err
	}
	if err := (&controller.DatabaseMigrationSetReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("kube-shift")}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&controller.TargetReconciler{Client: mgr.GetClient(), Targets: targets}).SetupWithManager(mgr); err != nil {
		return err
	}

	ready := healthz.Ping
	if o.enableWebhooks {
		// The manager's own user alone approves a set's children: the
		// webhooks learn who that is from the API server.
		direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
		if err != nil {
			return err
		}
		operatorUser, err := webhooksv1alpha1.OperatorIdentity(ctx, direct)
		if err != nil {
			return err
		}
		if err := webhooksv1alpha1.SetupWithManager(mgr, webhooksv1alpha1.Options{
			AllowAutoApproval: o.allowAutoApproval, AllowSQL: o.allowSQL, RequireTargetRef: o.requireTargetRef, SQLiteRoot: o.sqliteRoot,
			OperatorNamespace: o.operatorNamespace,
			OperatorUser:      operatorUser,

			RequireTrackedSources: o.requireTrackedSources,
		}); err != nil {
			return err
		}
		// Not ready until the webhook server serves TLS: the API server calls it.
		ready = mgr.GetWebhookServer().StartedChecker()
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return err
	}

	log.Info("starting manager")
	return mgr.Start(ctx)
}

// envOr is the environment variable key, or fallback when it is unset.
func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
