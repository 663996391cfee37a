package plugin_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/plugin"
)

// The verbs a person runs at a terminal, run under a pseudo-terminal:
// standard output is a real tty, as it is in a shell, so what the verbs do
// at a terminal (colour, a progress line redrawn in place) happens as it
// would for a reviewer; and run again into a pipe, where none of it may.

// colour matches an SGR escape, which sets colour or weight.
var colour = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// screen is what a command wrote to its terminal or pipe, read as it
// comes.
type screen struct {
	mu   sync.Mutex
	text bytes.Buffer
	done chan struct{}
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The terminal turns each newline into CR LF.
	return strings.ReplaceAll(s.text.String(), "\r\n", "\n")
}

// read copies r into the screen until r ends.
func (s *screen) read(r io.Reader) {
	defer close(s.done)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		s.mu.Lock()
		s.text.Write(buf[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// running is a verb running in the background.
type running struct {
	screen *screen
	err    chan error
	// close ends the output side once the verb returned, so the screen
	// reads to the end.
	close func()
}

// wait waits for the verb to return and the screen to be read whole.
func (r *running) wait() (string, error) {
	var err error
	Eventually(r.err).WithTimeout(30 * time.Second).Should(Receive(&err))
	r.close()
	Eventually(r.screen.done).WithTimeout(10 * time.Second).Should(BeClosed())
	return r.screen.String(), err
}

// start runs `kubectl shift ARGS...` as user in the background with out as
// its standard output (and the completion commands cobra adds to a root).
func start(ctx context.Context, user string, out *os.File, args ...string) chan error {
	done := make(chan error, 1)
	go func() {
		defer GinkgoRecover()
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: GinkgoWriter}
		root := &cobra.Command{Use: "kubectl-shift", SilenceUsage: true, SilenceErrors: true}
		root.AddCommand(plugin.Commands(&plugin.Options{Flags: configFlags(user), Streams: streams})...)
		root.SetArgs(args)
		root.SetOut(out)
		root.SetErr(GinkgoWriter)
		done <- root.ExecuteContext(ctx)
	}()
	return done
}

// onTerminal runs a verb with a pseudo-terminal as its standard output.
func onTerminal(ctx context.Context, user string, args ...string) *running {
	ptm, tty, err := pty.Open()
	Expect(err).NotTo(HaveOccurred())
	s := &screen{done: make(chan struct{})}
	go s.read(ptm)
	r := &running{screen: s, err: start(ctx, user, tty, args...)}
	r.close = func() {
		_ = tty.Close()
		// Reading the master side fails once the tty is closed and
		// drained, which ends the reader.
		Eventually(s.done).WithTimeout(5 * time.Second).Should(BeClosed())
		_ = ptm.Close()
	}
	return r
}

// piped runs a verb with a pipe as its standard output, as `| less` has.
func piped(ctx context.Context, user string, args ...string) *running {
	pr, pw, err := os.Pipe()
	Expect(err).NotTo(HaveOccurred())
	s := &screen{done: make(chan struct{})}
	go s.read(pr)
	return &running{screen: s, err: start(ctx, user, pw, args...), close: func() { _ = pw.Close() }}
}

// setCurrentStatus writes status as the operator would, for the
// migration's spec as it is (observedGeneration current).
func setCurrentStatus(ctx context.Context, name string, mutate func(*dbv1.DatabaseMigrationStatus)) {
	generation := readDBM(ctx, name).Generation
	setStatus(ctx, name, func(s *dbv1.DatabaseMigrationStatus) {
		s.ObservedGeneration = generation
		mutate(s)
	})
}

func applying(completed int32, statement string) func(*dbv1.DatabaseMigrationStatus) {
	return func(s *dbv1.DatabaseMigrationStatus) {
		s.Phase, s.Reason, s.Message = dbv1.PhaseRunning, dbv1.ReasonApplying, "applying plan "+planHash
		s.Progress = &dbv1.ProgressInfo{TotalSteps: 4, CompletedSteps: completed, CurrentStep: statement, PercentageComplete: completed * 25}
	}
}

func succeeded(s *dbv1.DatabaseMigrationStatus) {
	s.Phase, s.Reason, s.Message = dbv1.PhaseSucceeded, dbv1.ReasonSucceeded, "plan "+planHash+" applied (revision 1)"
	s.Progress = &dbv1.ProgressInfo{TotalSteps: 4, CompletedSteps: 4, PercentageComplete: 100}
}

var _ = Describe("kubectl shift at a terminal", func() {
	It("follows a migration with status -w until it succeeds: phases, a progress bar redrawn in place, the statement, in colour", func(ctx SpecContext) {
		planned(ctx, "follow-tty")
		r := onTerminal(ctx, "rita", "status", "follow-tty", "-w", "--timeout", "60s")
		Eventually(r.screen.String).Should(ContainSubstring("Following team-a/follow-tty until it succeeds, fails or is blocked:"))
		Eventually(r.screen.String).Should(ContainSubstring("AwaitingApproval"))

		setCurrentStatus(ctx, "follow-tty", applying(1, "ALTER TABLE widgets ADD COLUMN price INTEGER NOT NULL DEFAULT 0;"))
		Eventually(r.screen.String).Should(ContainSubstring("1/4 statements: ALTER TABLE widgets ADD COLUMN price"))
		setCurrentStatus(ctx, "follow-tty", applying(3, "CREATE INDEX widgets_price ON widgets (price);"))
		Eventually(r.screen.String).Should(ContainSubstring("3/4 statements: CREATE INDEX widgets_price"))
		setCurrentStatus(ctx, "follow-tty", succeeded)

		out, err := r.wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("\x1b[0;32mSucceeded\x1b[0m  plan " + planHash + " applied (revision 1)\n"))
		Expect(out).To(ContainSubstring("\x1b[0;36mRunning\x1b[0m  applying plan"))
		// The bar of 3 statements of 4 is 18 cells of 24, painted green,
		// drawn over the bar before it.
		Expect(out).To(ContainSubstring("\r\x1b[K          [\x1b[0;32m##################\x1b[0m------] 3/4 statements: CREATE INDEX"))
		Expect(out).To(ContainSubstring("\x1b[0;33m[warning]\x1b[0m MF103"), "the findings of the plan shown first are coloured too")
	})

	It("follows a migration into a pipe in plain text, a line per change, and fails when the migration fails", func(ctx SpecContext) {
		planned(ctx, "follow-pipe")
		setCurrentStatus(ctx, "follow-pipe", applying(2, "ALTER TABLE widgets ADD COLUMN price INTEGER NOT NULL DEFAULT 0;"))
		r := piped(ctx, "rita", "status", "follow-pipe", "-w")
		Eventually(r.screen.String).Should(ContainSubstring("2/4 statements"))
		setCurrentStatus(ctx, "follow-pipe", func(s *dbv1.DatabaseMigrationStatus) {
			s.Phase, s.Reason, s.Message = dbv1.PhaseFailed, dbv1.ReasonApplyFailed, "statement 3 failed: duplicate column"
		})
		out, err := r.wait()
		Expect(err).To(MatchError(plugin.ErrMigrationFailed))
		Expect(err).To(MatchError(ContainSubstring("team-a/follow-pipe is Failed: statement 3 failed: duplicate column")))
		Expect(out).NotTo(MatchRegexp(colour.String()))
		Expect(out).NotTo(ContainSubstring("\r"))
		Expect(out).To(MatchRegexp(`(?m)^\d\d:\d\d:\d\d  Running  applying plan sha256:1+\n          \[############------------\] 2/4 statements: ALTER TABLE widgets`))
		Expect(out).To(MatchRegexp(`(?m)^\d\d:\d\d:\d\d  Failed  statement 3 failed: duplicate column$`))
	})

	It("returns at once for a migration already done, and waits while a done phase is for an older spec", func(ctx SpecContext) {
		planned(ctx, "follow-done")
		// Succeeded, but for generation 0: the operator has not seen the
		// spec yet.
		setStatus(ctx, "follow-done", succeeded)
		r := piped(ctx, "rita", "status", "follow-done", "-w", "--timeout", "2s")
		out, err := r.wait()
		Expect(err).To(MatchError(ContainSubstring("did not succeed, fail or get blocked within 2s")))
		Expect(out).To(ContainSubstring("Succeeded"))

		setCurrentStatus(ctx, "follow-done", succeeded)
		out, err = piped(ctx, "rita", "status", "follow-done", "-w").wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("Succeeded  plan " + planHash))
	})

	DescribeTable("approve shows its findings in colour only on a terminal that wants it",
		func(ctx SpecContext, name string, tty, noColor, coloured bool) {
			if noColor {
				Expect(os.Setenv("NO_COLOR", "1")).To(Succeed())
				DeferCleanup(os.Unsetenv, "NO_COLOR")
			}
			planned(ctx, name)
			run := piped
			if tty {
				run = onTerminal
			}
			out, err := run(ctx, "rita", "approve", name, "--yes").wait()
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("approved plan " + planHash))
			if coloured {
				Expect(out).To(ContainSubstring("\x1b[0;33m[warning]\x1b[0m MF103: adding a non-nullable column"))
				Expect(out).To(ContainSubstring("\x1b[0;36m[info]\x1b[0m KS001"))
			} else {
				Expect(out).NotTo(MatchRegexp(colour.String()))
				Expect(out).To(ContainSubstring("[warning] MF103: adding a non-nullable column"))
			}
		},
		Entry("on a terminal", "approve-tty", true, false, true),
		Entry("into a pipe", "approve-pipe", false, false, false),
		Entry("on a terminal with NO_COLOR", "approve-nocolor", true, true, false),
	)

	It("completes migration names from the cluster, with their phase", func(ctx SpecContext) {
		planned(ctx, "complete-alpha")
		planned(ctx, "complete-beta")
		setCurrentStatus(ctx, "complete-beta", succeeded)
		out, err := onTerminal(ctx, "rita", "__complete", "status", "complete-").wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("complete-alpha\tAwaitingApproval\n"))
		Expect(out).To(ContainSubstring("complete-beta\tSucceeded\n"))
		Expect(out).To(ContainSubstring(":4\n"), "no file names after a migration's name")
		Expect(out).NotTo(ContainSubstring("follow-"), "only names with the prefix typed")

		out, err = onTerminal(ctx, "rita", "__complete", "approve", "").wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("complete-alpha\tAwaitingApproval\n"))

		// A second argument is not a migration's name.
		out, err = onTerminal(ctx, "rita", "__complete", "diff", "complete-alpha", "").wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(out).NotTo(ContainSubstring("complete-beta"))

		for _, shell := range []string{"bash", "zsh", "fish"} {
			out, err := piped(ctx, "rita", "completion", shell).wait()
			Expect(err).NotTo(HaveOccurred(), shell)
			Expect(out).To(ContainSubstring("__complete"), "%s: the script asks the plugin for completions", shell)
		}
	})

	It("lists migrations across namespaces with what each waits for", func(ctx SpecContext) {
		planned(ctx, "list-review")
		setCurrentStatus(ctx, "list-review", func(s *dbv1.DatabaseMigrationStatus) {
			s.Phase, s.Reason = dbv1.PhaseAwaitingApproval, dbv1.ReasonAwaitingApproval
		})
		// list-holder applies to the database list-queued waits for.
		shared := func(dbm *dbv1.DatabaseMigration) { dbm.Spec.Database.Database = "shared.db" }
		planned(ctx, "list-holder", shared)
		setCurrentStatus(ctx, "list-holder", applying(1, "ALTER TABLE widgets ADD COLUMN price INTEGER;"))
		planned(ctx, "list-queued", shared)
		setCurrentStatus(ctx, "list-queued", func(s *dbv1.DatabaseMigrationStatus) {
			meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: dbv1.ConditionApproved, Status: metav1.ConditionTrue, Reason: dbv1.ReasonApproved, Message: "approved"})
			meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: dbv1.ConditionApplied, Status: metav1.ConditionFalse, Reason: dbv1.ReasonLockBusy, Message: "waiting"})
		})
		planned(ctx, "list-blocked")
		setCurrentStatus(ctx, "list-blocked", func(s *dbv1.DatabaseMigrationStatus) {
			s.Phase, s.Reason = dbv1.PhaseBlocked, dbv1.ReasonDestructiveBlocked
		})

		// rita may list migrations in team-a only; admin-like listing
		// across namespaces is what -A asks, and she is refused it.
		_, err := piped(ctx, "rita", "list", "-A").wait()
		Expect(err).To(MatchError(ContainSubstring("forbidden")))

		out, err := piped(ctx, "rita", "list").wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`(?m)^NAME +PHASE +DATABASE +AGE +WAITING FOR$`))
		Expect(out).To(MatchRegexp(`(?m)^list-review +AwaitingApproval +\S+ +\S+ +approval by anyone granted the approve verb$`))
		Expect(out).To(MatchRegexp(`(?m)^list-queued +AwaitingApproval +\S+ +\S+ +the lock of \S+, held by the apply of team-a/list-holder$`))
		Expect(out).To(MatchRegexp(`(?m)^list-holder +Running +\S+ +\S+ +- \(applying: 1/4 statements\)$`))
		Expect(out).To(MatchRegexp(`(?m)^list-blocked +Blocked +\S+ +\S+ +a change: the plan is destructive and policy.destructive is block$`))

		allNamespaces(ctx, "rita")
		out, err = piped(ctx, "rita", "list", "-A").wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`(?m)^NAMESPACE +NAME +PHASE +DATABASE +AGE +WAITING FOR$`))
		Expect(out).To(MatchRegexp(`(?m)^team-a +list-queued +AwaitingApproval .*held by the apply of team-a/list-holder$`))
	})
})

// allNamespaces lets user list migrations in every namespace, until the
// spec ends.
func allNamespaces(ctx context.Context, user string) {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "migration-lister"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{dbv1.GroupVersion.Group}, Resources: []string{"databasemigrations"}, Verbs: []string{"list"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "migration-lister"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		Expect(admin.Create(ctx, obj)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(admin.Delete(ctx, obj)).To(Succeed()) })
	}
	// RBAC takes effect a moment after the binding exists.
	Eventually(func() error {
		return userClient(user).List(ctx, &dbv1.DatabaseMigrationList{})
	}).WithTimeout(20 * time.Second).Should(Succeed())
}
