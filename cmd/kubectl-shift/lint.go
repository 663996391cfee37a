package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/lint"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// Exit codes of lint, for CI: findings at error level fail the job one
// way, a job that could not lint fails it another.
const (
	exitFindings = 1
	exitUsage    = 2
)

// exitError carries the process's exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process's exit code for err: its own when it carries
// one, 1 otherwise.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func lintCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var (
		files     []string
		recursive bool
		output    string
		opts      lint.Options
		allowSQL  string
		plan      bool
		devURLs   []string
		liveURL   string
	)
	cmd := &cobra.Command{
		Use:   "lint -f FILE|DIR|- ... [-o text|json|github|sarif]",
		Short: "Check DatabaseMigration manifests as the admission webhook would, without a cluster",
		Long: `lint reads DatabaseMigration manifests (multi-document YAML; - reads
standard input, such as kustomize build output) and runs on each the
admission webhooks' own defaulting and validation, as on kubectl apply of
the whole input into an empty namespace: configmap:// sources are read from
the ConfigMaps of the same input, targetRef from its DatabaseTargets.

With --plan (implied by --dev-url and --url), every migration the webhook
admits is also planned as the operator plans it, and the planner's lint
(Atlas's analyzers and kube-shift's own checks) is reported at the line of
each statement. Scripts replay on a dev database: in memory for SQLite, the
--dev-url of their engine for a server (required: it is emptied before and
after each plan). Without --url a migration is planned as if its database
were empty; with --url, migrations of that URL's engine are planned against
its live schema.

Exit codes: 0 nothing at error level, 1 findings at error level (what the
webhook would refuse, or a destructive plan the operator would block),
2 the input could not be read, a flag is wrong, or planning could not run.`,
		Example: `  kubectl-shift lint -f config/samples/
  kustomize build overlays/prod | kubectl-shift lint -f - -o github
  kubectl-shift lint -f migrations/ -R -o sarif > kube-shift.sarif
  kubectl-shift lint -f migrations/ --plan --dev-url postgres://dev:dev@localhost:5433/dev?sslmode=disable
  kubectl-shift lint -f migrations/ --url postgres://ci@staging-db/app --dev-url postgres://dev@dev-db/dev`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(lint.Formats, output) {
				return usageError(fmt.Errorf("-o %s: want one of %s", output, strings.Join(lint.Formats, ", ")))
			}
			if len(files) == 0 {
				return usageError(errors.New("-f is required: a file, a directory or - for standard input"))
			}
			if allowSQL != "" {
				allow, err := sqlstatic.ParseReaches(allowSQL)
				if err != nil {
					return usageError(fmt.Errorf("--allow-sql: %w", err))
				}
				opts.AllowSQL = maps.Clone(allow)
			}
			if plan || len(devURLs) > 0 || liveURL != "" {
				devs, err := devDatabases(devURLs)
				if err != nil {
					return usageError(err)
				}
				opts.Plan = &lint.Planning{DevURLs: devs, LiveURL: liveURL}
			}
			scheme, err := lintScheme()
			if err != nil {
				return err
			}
			docs, err := lint.ReadPaths(scheme, files, recursive, streams.In)
			if err != nil {
				return usageError(err)
			}
			report, err := lint.Run(cmd.Context(), scheme, docs, opts)
			if err != nil {
				return usageError(err)
			}
			if err := lint.Write(streams.Out, output, report); err != nil {
				return err
			}
			if n := report.Errors(); n > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("%d finding(s) at error level", n)}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&files, "filename", "f", nil, "Manifest file, directory of manifests, or - for standard input; repeat for several")
	fl.BoolVarP(&recursive, "recursive", "R", false, "Read the directories given with -f recursively")
	fl.StringVarP(&output, "output", "o", "text", "Output format: "+strings.Join(lint.Formats, ", "))
	fl.StringVarP(&opts.Namespace, "namespace", "n", "default", "Namespace of the objects that name none")
	fl.StringVar(&allowSQL, "allow-sql", "", "As the manager's --allow-sql: kinds of statements reaching outside a migration's database to let through, comma-separated")
	fl.BoolVar(&opts.RequireTargetRef, "require-target-ref", false, "As the manager's --require-target-ref: refuse inline spec.database")
	fl.StringVar(&opts.SQLiteRoot, "sqlite-root", "", "As the manager's --sqlite-root: SQLite paths must resolve under it on this machine (default /: not confined)")
	fl.BoolVar(&opts.AllowAutoApproval, "allow-auto-approval", false, "As the manager's --allow-auto-approval")
	fl.BoolVar(&plan, "plan", false, "Also plan each migration the webhook admits and report the planner's lint (SQLite replays in memory; servers need --dev-url)")
	fl.StringArrayVar(&devURLs, "dev-url", nil, "Dev database to replay a server engine's scripts on (implies --plan): an empty database, emptied before and after each plan, or a server URL without a database, on which each plan gets a scratch database; repeat for one per engine")
	fl.StringVar(&liveURL, "url", "", "Database whose live schema the migrations of its engine are planned against, as the operator plans them (implies --plan; read, never written)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

// devDatabases keys the --dev-url values by engine: one per engine.
func devDatabases(urls []string) (map[string]string, error) {
	out := map[string]string{}
	for _, u := range urls {
		t, err := database.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("--dev-url: %w", err)
		}
		if _, ok := out[t.Engine.Name()]; ok {
			return nil, fmt.Errorf("--dev-url: two dev databases for %s: give one per engine", t.Engine.Name())
		}
		out[t.Engine.Name()] = u
	}
	return out, nil
}

func lintScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := dbv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}
