package controller

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/tenancy"
)

// annotationTemplate records, on a child, the digest of the set's template
// it was made from: the set rewrites a child's spec only when the template
// changed, never because the API server defaulted a field.
const annotationTemplate = "database.mohitnagaraj.in/template"

// Limits of what a set's status shows: the children hold the rest.
const (
	fleetStatementsShown = 50
	fleetExamplesShown   = 5
)

// DatabaseMigrationSetReconciler rolls a set out: one child
// DatabaseMigration per selected target, their plans grouped for one
// review, then approvals written to the children wave by wave.
type DatabaseMigrationSetReconciler struct {
	client.Client
	Recorder recorder.EventRecorder
	// Clock tells the time; the real clock when nil.
	Clock clock.PassiveClock
	// StatusInterval spaces the status writes of a set that only counts
	// its children's progress (DefaultSetStatusInterval when zero): a
	// large set's status is large, and its children change all the time.
	// A new phase, approval, fleet hash or retry is written at once.
	StatusInterval time.Duration

	mu sync.Mutex
	// written is when each set's status was last written.
	written map[types.NamespacedName]time.Time
}

// DefaultSetStatusInterval is how often at most a set's progress alone is
// written to its status.
const DefaultSetStatusInterval = time.Second

// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrationsets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrationsets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrationsets/finalizers,verbs=update
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrations,verbs=create;delete

// Reconcile brings one set's children in line with its targets and moves
// its rollout on as far as it may go now.
func (r *DatabaseMigrationSetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	set := &dbv1.DatabaseMigrationSet{}
	if err := r.Get(ctx, req.NamespacedName, set); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !set.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, set)
	}
	if !controllerutil.ContainsFinalizer(set, dbv1.Finalizer) {
		patch := client.MergeFrom(set.DeepCopy())
		controllerutil.AddFinalizer(set, dbv1.Finalizer)
		if err := r.Patch(ctx, set, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := set.Status.DeepCopy()
	err := r.reconcileSet(ctx, set)
	if equality.Semantic.DeepEqual(before, &set.Status) {
		return ctrl.Result{}, err
	}
	if wait := r.statusWait(req.NamespacedName, before, &set.Status); wait > 0 && err == nil {
		// Progress only: the next reconcile, at the latest after wait,
		// computes it again from the children and writes it.
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if uerr := r.Status().Update(ctx, set); uerr != nil {
		return ctrl.Result{}, errors.Join(err, uerr)
	}
	r.mu.Lock()
	if r.written == nil {
		r.written = map[types.NamespacedName]time.Time{}
	}
	r.written[req.NamespacedName] = r.now().Time
	r.mu.Unlock()
	return ctrl.Result{}, err
}

// statusWait is how long a status change may wait to be written: none
// for a change a person or the webhook acts on, the rest of the interval
// for progress alone.
func (r *DatabaseMigrationSetReconciler) statusWait(key types.NamespacedName, before, after *dbv1.DatabaseMigrationSetStatus) time.Duration {
	if before.Phase != after.Phase || before.FleetHash != after.FleetHash || before.Retried != after.Retried ||
		before.Promoted != after.Promoted || !equality.Semantic.DeepEqual(before.Approved, after.Approved) {
		return 0
	}
	interval := cmp.Or(r.StatusInterval, DefaultSetStatusInterval)
	r.mu.Lock()
	last, ok := r.written[key]
	r.mu.Unlock()
	if !ok {
		return 0
	}
	return max(0, interval-r.now().Sub(last))
}

// reconcileDelete deletes the children (each waits for an apply in flight
// through its own finalizer; no schema is dropped), then lets the set go.
func (r *DatabaseMigrationSetReconciler) reconcileDelete(ctx context.Context, set *dbv1.DatabaseMigrationSet) (ctrl.Result, error) {
	children, err := r.children(ctx, set)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, c := range children {
		if c.DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, c); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, err
			}
		}
	}
	if len(children) > 0 {
		// Each child's deletion requeues the set (it owns them).
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(set.DeepCopy())
	controllerutil.RemoveFinalizer(set, dbv1.Finalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, set, patch))
}

// member is one selected target and its child.
type member struct {
	ref   dbv1.TargetRef
	key   string // dbv1.SetTarget(ref)
	step  int
	child *dbv1.DatabaseMigration
	// collision is set when the child's name is taken by an object the
	// set does not control.
	collision bool
	// refused is admission's answer when it refused the child.
	refused string
}

func (r *DatabaseMigrationSetReconciler) reconcileSet(ctx context.Context, set *dbv1.DatabaseMigrationSet) error {
	now := r.now()
	set.Status.ObservedGeneration = set.Generation

	members, err := r.selectTargets(ctx, set)
	if err != nil {
		return err
	}
	if err := r.syncChildren(ctx, set, members); err != nil {
		return err
	}
	if err := r.retry(ctx, set, members); err != nil {
		return err
	}

	// An approval is read against the status the reviewer saw (and the
	// webhook checked it against): the pairs stored with its fleet hash.
	r.recordApproval(set)
	if p := set.Annotations[dbv1.AnnotationPromoted]; p != "" && set.Status.Approved != nil && p == set.Status.Approved.Hash && set.Status.Promoted == "" {
		set.Status.Promoted = p
		r.event(set, corev1.EventTypeNormal, dbv1.ReasonFleetRollingOut, fmt.Sprintf("promoted past the canary by %s", set.Annotations[dbv1.AnnotationPromotedBy]))
	}

	old := map[string]dbv1.FleetTarget{}
	for _, t := range set.Status.Targets {
		old[t.Target] = t
	}
	started := slices.ContainsFunc(set.Status.Targets, func(t dbv1.FleetTarget) bool { return t.StartTime != nil })
	targets := make([]dbv1.FleetTarget, 0, len(members))
	var blocked []string
	canary := int(set.Spec.Rollout.Canary)
	for _, m := range members {
		switch {
		case m.collision:
			blocked = append(blocked, fmt.Sprintf("%s: migration %s already exists and belongs to someone else (rename or delete it)", m.key, childName(set, m.ref)))
			continue
		case m.refused != "":
			blocked = append(blocked, fmt.Sprintf("%s: %s", m.key, m.refused))
			continue
		}
		t := old[m.key]
		t.Target, t.Migration = m.key, m.child.Name
		if _, seen := old[m.key]; !seen || t.StartTime == nil {
			// Waves are fixed once the rollout started: a target that
			// joins later never becomes a canary.
			t.Wave = int32(1 + m.step)
			if canary > 0 && !started {
				t.Wave = 0
				canary--
			}
		}
		observe(&t, m.child, set.Status.Approved, now)
		targets = append(targets, t)
	}
	set.Status.Targets = targets
	set.Status.Plans = groupPlans(members)
	set.Status.FleetHash = ""
	if pairs := dbv1.FleetPairs(targets); len(pairs) > 0 && !slices.ContainsFunc(targets, func(t dbv1.FleetTarget) bool { return t.State == dbv1.FleetPlanning }) {
		set.Status.FleetHash = dbv1.FleetHash(pairs)
	}

	if err := r.startWave(ctx, set, members, now); err != nil {
		return err
	}
	summarizeSet(set, blocked)
	return nil
}

// selectTargets lists the targets the set selects (DatabaseTargets of its
// namespace, ClusterDatabaseTargets that admit it; a namespaced target
// wins a name both have), in rollout order, with their children.
func (r *DatabaseMigrationSetReconciler) selectTargets(ctx context.Context, set *dbv1.DatabaseMigrationSet) ([]*member, error) {
	selector, err := metav1.LabelSelectorAsSelector(&set.Spec.TargetSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.targetSelector: %w", err)
	}
	steps := make([]labels.Selector, len(set.Spec.Rollout.Steps))
	for i, s := range set.Spec.Rollout.Steps {
		if steps[i], err = metav1.LabelSelectorAsSelector(&s.Selector); err != nil {
			return nil, fmt.Errorf("spec.rollout.steps[%d].selector: %w", i, err)
		}
	}
	usable, err := tenancy.Usable(ctx, r.Client, set.Namespace)
	if err != nil {
		return nil, err
	}
	byName := map[string]*member{}
	var members []*member
	for _, t := range usable {
		if !selector.Matches(labels.Set(t.Labels)) {
			continue
		}
		if prev, ok := byName[t.ID.Name]; ok {
			if prev.ref.Kind == dbv1.KindDatabaseTarget {
				continue
			}
		}
		m := &member{ref: dbv1.TargetRef{Kind: dbv1.TargetKind(t.ID.Kind), Name: t.ID.Name}, step: len(steps)}
		m.key = dbv1.SetTarget(m.ref)
		for i, s := range steps {
			if s.Matches(labels.Set(t.Labels)) {
				m.step = i
				break
			}
		}
		if prev, ok := byName[t.ID.Name]; ok {
			*prev = *m
			continue
		}
		byName[t.ID.Name] = m
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b *member) int {
		return cmp.Or(cmp.Compare(a.step, b.step), strings.Compare(a.ref.Name, b.ref.Name))
	})
	return members, nil
}

// children lists the migrations the set controls.
func (r *DatabaseMigrationSetReconciler) children(ctx context.Context, set *dbv1.DatabaseMigrationSet) ([]*dbv1.DatabaseMigration, error) {
	var list dbv1.DatabaseMigrationList
	// The cache's own objects, not copies: a set reads a thousand of them
	// at every reconcile. Whoever changes one copies it first.
	if err := r.List(ctx, &list, client.InNamespace(set.Namespace), client.MatchingLabels{dbv1.LabelSet: set.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var out []*dbv1.DatabaseMigration
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], set) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// syncChildren creates the child of each member that has none, rewrites
// a child whose template changed, and deletes the children of targets no
// longer selected.
func (r *DatabaseMigrationSetReconciler) syncChildren(ctx context.Context, set *dbv1.DatabaseMigrationSet, members []*member) error {
	existing, err := r.children(ctx, set)
	if err != nil {
		return err
	}
	byName := map[string]*dbv1.DatabaseMigration{}
	for _, c := range existing {
		byName[c.Name] = c
	}
	digest := templateDigest(set.Spec.Template)
	wanted := map[string]bool{}
	for _, m := range members {
		name := childName(set, m.ref)
		wanted[name] = true
		child := byName[name]
		switch {
		case child == nil:
			child = newChild(set, m.ref, digest)
			if err := controllerutil.SetControllerReference(set, child, r.Scheme()); err != nil {
				return err
			}
			err := r.Create(ctx, child)
			switch {
			case apierrors.IsAlreadyExists(err):
				m.collision = true
				continue
			case apierrors.IsInvalid(err), apierrors.IsForbidden(err):
				// The template does not suit this target (its engine, its
				// policy): the set says so and goes on with the others.
				m.refused = err.Error()
				continue
			}
			if err != nil {
				return fmt.Errorf("creating %s for %s: %w", name, m.key, err)
			}
		case child.Annotations[annotationTemplate] != digest || !equality.Semantic.DeepEqual(child.Spec.TargetRef, &m.ref):
			fresh := newChild(set, m.ref, digest)
			patch := client.MergeFrom(child)
			child = child.DeepCopy()
			child.Spec = fresh.Spec
			child.Annotations[annotationTemplate] = digest
			if err := r.Patch(ctx, child, patch); err != nil {
				return fmt.Errorf("updating %s to the set's template: %w", name, err)
			}
		}
		m.child = child
	}
	for _, c := range existing {
		if !wanted[c.Name] && c.DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, c); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}

// retry acts on a new retry annotation: the failed children are deleted,
// to be made again and planned afresh, so the failure budget counts from
// zero.
func (r *DatabaseMigrationSetReconciler) retry(ctx context.Context, set *dbv1.DatabaseMigrationSet, members []*member) error {
	want := set.Annotations[dbv1.AnnotationRetry]
	if want == "" || want == set.Status.Retried {
		return nil
	}
	var retried []string
	for _, m := range members {
		if m.child == nil || fleetState(m.child, nil) != dbv1.FleetFailed {
			continue
		}
		if err := r.Delete(ctx, m.child); client.IgnoreNotFound(err) != nil {
			return err
		}
		retried = append(retried, m.key)
	}
	set.Status.Retried = want
	for i := range set.Status.Targets {
		if slices.Contains(retried, set.Status.Targets[i].Target) {
			set.Status.Targets[i].StartTime, set.Status.Targets[i].CompletionTime = nil, nil
		}
	}
	r.event(set, corev1.EventTypeNormal, dbv1.ReasonFleetRollingOut, fmt.Sprintf("retry: %d failed targets planned again (%s)", len(retried), strings.Join(retried, ", ")))
	return nil
}

// recordApproval takes a new approved-fleet annotation: it approves the
// pairs the stored status hashes to that fleet hash. An annotation that
// names another fleet (the status moved since) approves nothing.
func (r *DatabaseMigrationSetReconciler) recordApproval(set *dbv1.DatabaseMigrationSet) {
	hash := set.Annotations[dbv1.AnnotationApprovedFleet]
	if hash == "" || (set.Status.Approved != nil && set.Status.Approved.Hash == hash) {
		return
	}
	pairs := dbv1.FleetPairs(set.Status.Targets)
	if hash != set.Status.FleetHash || dbv1.FleetHash(pairs) != hash {
		return
	}
	approved := &dbv1.FleetApproval{Hash: hash, By: set.Annotations[dbv1.AnnotationApprovedFleetBy], Pairs: pairs}
	if prev := set.Status.Approved; prev != nil {
		current := map[string]bool{}
		for _, t := range set.Status.Targets {
			current[t.Target] = true
		}
		for _, p := range prev.Pairs {
			if current[p.Target] && !slices.ContainsFunc(pairs, func(n dbv1.FleetPair) bool { return n.Target == p.Target }) {
				approved.Pairs = append(approved.Pairs, p)
			}
		}
	}
	slices.SortFunc(approved.Pairs, func(a, b dbv1.FleetPair) int { return strings.Compare(a.Target, b.Target) })
	set.Status.Approved = approved
	r.event(set, corev1.EventTypeNormal, dbv1.ReasonFleetRollingOut, fmt.Sprintf("fleet %s approved by %s: %d targets", hash, set.Status.Approved.By, len(pairs)))
}

// startWave lets the next targets apply: in the lowest wave with targets
// waiting or running, as many as maxParallel allows, unless the failure
// budget is spent or the canary waits for a promotion.
func (r *DatabaseMigrationSetReconciler) startWave(ctx context.Context, set *dbv1.DatabaseMigrationSet, members []*member, now metav1.Time) error {
	st := &set.Status
	if int32(countState(st.Targets, dbv1.FleetFailed)) > set.Spec.Rollout.MaxFailures {
		return nil
	}
	wave := int32(-1)
	for _, t := range st.Targets {
		if (t.State == dbv1.FleetWaiting || t.State == dbv1.FleetRunning) && (wave < 0 || t.Wave < wave) {
			wave = t.Wave
		}
	}
	if wave < 0 {
		return nil
	}
	if wave != st.Wave {
		r.event(set, corev1.EventTypeNormal, dbv1.ReasonFleetRollingOut, fmt.Sprintf("wave %d of %d starts", waveOrdinal(st.Targets, wave), len(waves(st.Targets))))
	}
	st.Wave = wave
	if wave > 0 && set.Spec.Rollout.PauseAfterCanary && st.Promoted == "" && slices.ContainsFunc(st.Targets, func(t dbv1.FleetTarget) bool { return t.Wave == 0 }) {
		return nil
	}
	parallel := max(1, int(set.Spec.Rollout.MaxParallel))
	running := countState(st.Targets, dbv1.FleetRunning)
	children := map[string]*dbv1.DatabaseMigration{}
	for _, m := range members {
		if m.child != nil {
			children[m.key] = m.child
		}
	}
	for i := range st.Targets {
		t := &st.Targets[i]
		if running >= parallel {
			break
		}
		if t.Wave != wave || t.State != dbv1.FleetWaiting {
			continue
		}
		patch := client.MergeFrom(children[t.Target])
		child := children[t.Target].DeepCopy()
		child.Annotations[dbv1.AnnotationApprovedPlan] = t.PlanHash
		if err := r.Patch(ctx, child, patch); err != nil {
			return fmt.Errorf("approving %s for fleet %s: %w", child.Name, st.Approved.Hash, err)
		}
		t.State, t.StartTime, t.CompletionTime = dbv1.FleetRunning, &now, nil
		running++
	}
	return nil
}

// observe updates t from its child: the plan, the state, and the times.
func observe(t *dbv1.FleetTarget, child *dbv1.DatabaseMigration, approved *dbv1.FleetApproval, now metav1.Time) {
	t.PlanHash = ""
	if p := child.Status.Plan; p != nil {
		t.PlanHash = p.Hash
	}
	t.State = fleetState(child, approved)
	t.Message = ""
	switch t.State {
	case dbv1.FleetFailed:
		t.Message = child.Status.Message
		fallthrough
	case dbv1.FleetSucceeded:
		if t.CompletionTime == nil {
			t.CompletionTime = cmp.Or(child.Status.CompletionTime, &now)
		}
	case dbv1.FleetRunning:
		if t.StartTime == nil {
			t.StartTime = &now
		}
	}
}

// fleetState is where a child stands in its set's rollout.
func fleetState(child *dbv1.DatabaseMigration, approved *dbv1.FleetApproval) dbv1.FleetTargetState {
	st := child.Status
	plan := ""
	if st.Plan != nil {
		plan = st.Plan.Hash
	}
	switch st.Phase {
	case dbv1.PhaseSucceeded:
		return dbv1.FleetSucceeded
	case dbv1.PhaseFailed, dbv1.PhaseBlocked:
		return dbv1.FleetFailed
	case dbv1.PhaseRunning, dbv1.PhaseRollingBack, dbv1.PhaseAwaitingSwitch:
		return dbv1.FleetRunning
	}
	if plan == "" || st.ObservedGeneration != child.Generation {
		return dbv1.FleetPlanning
	}
	target := ""
	if child.Spec.TargetRef != nil {
		target = dbv1.SetTarget(*child.Spec.TargetRef)
	}
	switch {
	case child.Annotations[dbv1.AnnotationApprovedPlan] == plan:
		// Approved by the set: applying, or about to.
		return dbv1.FleetRunning
	case approved.Approves(target, plan):
		return dbv1.FleetWaiting
	}
	return dbv1.FleetUnapproved
}

// groupPlans groups the children's plans by content, most targets first.
func groupPlans(members []*member) []dbv1.FleetPlan {
	byDigest := map[string]*dbv1.FleetPlan{}
	var out []*dbv1.FleetPlan
	for _, m := range members {
		if m.child == nil || m.child.Status.Plan == nil || m.child.Status.Plan.Hash == "" {
			continue
		}
		p := m.child.Status.Plan
		digest := planDigest(p)
		g, ok := byDigest[digest]
		if !ok {
			g = &dbv1.FleetPlan{Digest: digest, Statements: p.Statements, Diagnostics: p.Diagnostics, Validations: p.Validations,
				Destructive: p.Destructive, Truncated: p.Truncated}
			if len(g.Statements) > fleetStatementsShown {
				g.Statements, g.Truncated = g.Statements[:fleetStatementsShown], true
			}
			byDigest[digest] = g
			out = append(out, g)
		}
		g.Targets++
		if len(g.Examples) < fleetExamplesShown {
			g.Examples = append(g.Examples, m.key)
		}
	}
	slices.SortStableFunc(out, func(a, b *dbv1.FleetPlan) int { return cmp.Compare(b.Targets, a.Targets) })
	plans := make([]dbv1.FleetPlan, len(out))
	for i, p := range out {
		plans[i] = *p
	}
	return plans
}

// planDigest identifies what a plan does, wherever it applies: its
// statements, findings and scripts. A plan whose statements status cannot
// hold whole is identified by its own hash, so no group hides a
// difference a reviewer cannot see.
func planDigest(p *dbv1.PlanStatus) string {
	if p.Truncated {
		return p.Hash
	}
	b, _ := json.Marshal(struct {
		Statements  []string
		Diagnostics []dbv1.Diagnostic
		Scripts     []dbv1.PlannedScript
		Validations []dbv1.PlannedValidation
		Destructive bool
	}{p.Statements, p.Diagnostics, p.Scripts, p.Validations, p.Destructive})
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// summarizeSet sets the counts, the phase, the message and the kstatus
// conditions. blocked says, per target, why it has no migration.
func summarizeSet(set *dbv1.DatabaseMigrationSet, blocked []string) {
	st := &set.Status
	st.Counts = dbv1.FleetCounts{Total: int32(len(st.Targets))}
	for _, t := range st.Targets {
		switch t.State {
		case dbv1.FleetPlanning:
			st.Counts.Planning++
		case dbv1.FleetUnapproved:
			st.Counts.Unapproved++
		case dbv1.FleetWaiting:
			st.Counts.Waiting++
		case dbv1.FleetRunning:
			st.Counts.Running++
		case dbv1.FleetSucceeded:
			st.Counts.Succeeded++
		case dbv1.FleetFailed:
			st.Counts.Failed++
		}
	}
	st.Waves = int32(len(waves(st.Targets)))
	c := st.Counts
	var phase dbv1.SetPhase
	var reason, message string
	switch {
	case len(blocked) > 0:
		phase, reason = dbv1.SetStalled, dbv1.ReasonFleetChildRefused
		message = fmt.Sprintf("%d targets have no migration: %s", len(blocked), strings.Join(blocked[:min(len(blocked), fleetExamplesShown)], "; "))
	case c.Total == 0:
		phase, reason, message = dbv1.SetStalled, dbv1.ReasonFleetNoTargets, "spec.targetSelector matches no DatabaseTarget of this namespace and no ClusterDatabaseTarget that admits it"
	case c.Failed > set.Spec.Rollout.MaxFailures:
		phase, reason = dbv1.SetStalled, dbv1.ReasonFailureBudget
		message = fmt.Sprintf("%d targets failed, more than maxFailures (%d): no new target starts until a retry (kubectl shift fleet retry %s): %s",
			c.Failed, set.Spec.Rollout.MaxFailures, set.Name, failedTargets(st.Targets))
	case c.Waiting+c.Running > 0 && st.Wave > 0 && set.Spec.Rollout.PauseAfterCanary && st.Promoted == "" && c.Running == 0 && hasCanary(st.Targets):
		phase, reason = dbv1.SetAwaitingPromotion, dbv1.ReasonAwaitingPromotion
		message = fmt.Sprintf("the canary is done: promote the rest with kubectl shift fleet promote %s", set.Name)
	case c.Waiting+c.Running > 0:
		phase, reason = dbv1.SetRollingOut, dbv1.ReasonFleetRollingOut
		message = fmt.Sprintf("wave %d of %d: %d running, %d waiting, %d succeeded of %d", waveOrdinal(st.Targets, st.Wave), st.Waves, c.Running, c.Waiting, c.Succeeded, c.Total)
		if c.Unapproved > 0 {
			message += fmt.Sprintf("; %d wait for a new approval of the fleet", c.Unapproved)
		}
	case c.Planning > 0:
		phase, reason = dbv1.SetPlanning, dbv1.ReasonFleetPlanning
		message = fmt.Sprintf("%d of %d targets planned", c.Total-c.Planning, c.Total)
	case c.Unapproved > 0:
		phase, reason = dbv1.SetAwaitingApproval, dbv1.ReasonFleetUnapproved
		message = fmt.Sprintf("%d targets, %d distinct plans: review them and approve fleet %s (kubectl shift fleet approve %s)", c.Unapproved, len(st.Plans), st.FleetHash, set.Name)
		if stale := set.Annotations[dbv1.AnnotationApprovedFleet]; stale != "" && stale != st.FleetHash && (st.Approved == nil || stale != st.Approved.Hash) {
			message += fmt.Sprintf("; the approved fleet %s is not this one: a target joined or a plan changed before the approval was recorded", stale)
		}
	case c.Failed > 0:
		phase, reason = dbv1.SetStalled, dbv1.ReasonFailureBudget
		message = fmt.Sprintf("%d of %d targets applied; %d failed: %s", c.Succeeded, c.Total, c.Failed, failedTargets(st.Targets))
	default:
		phase, reason = dbv1.SetSucceeded, dbv1.ReasonFleetSucceeded
		message = fmt.Sprintf("all %d targets applied", c.Total)
	}
	st.Phase, st.Message = phase, message
	setSetCondition(set, dbv1.ConditionReady, phase == dbv1.SetSucceeded, reason, message)
	switch phase {
	case dbv1.SetSucceeded:
		meta.RemoveStatusCondition(&st.Conditions, dbv1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, dbv1.ConditionStalled)
	case dbv1.SetStalled:
		setSetCondition(set, dbv1.ConditionStalled, true, reason, message)
		meta.RemoveStatusCondition(&st.Conditions, dbv1.ConditionReconciling)
	case dbv1.SetAwaitingApproval, dbv1.SetAwaitingPromotion:
		// Waiting for a person is neither progress nor a fault.
		meta.RemoveStatusCondition(&st.Conditions, dbv1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, dbv1.ConditionStalled)
	default:
		setSetCondition(set, dbv1.ConditionReconciling, true, reason, message)
		meta.RemoveStatusCondition(&st.Conditions, dbv1.ConditionStalled)
	}
}

func setSetCondition(set *dbv1.DatabaseMigrationSet, condType string, status bool, reason, message string) {
	setConditionOn(&set.Status.Conditions, set.Generation, condType, status, reason, message)
}

// failedTargets names the failed targets and why, the first few.
func failedTargets(targets []dbv1.FleetTarget) string {
	var out []string
	for _, t := range targets {
		if t.State == dbv1.FleetFailed {
			if len(out) == fleetExamplesShown {
				out = append(out, "…")
				break
			}
			out = append(out, fmt.Sprintf("%s (%s)", t.Target, t.Message))
		}
	}
	return strings.Join(out, "; ")
}

func countState(targets []dbv1.FleetTarget, s dbv1.FleetTargetState) int {
	n := 0
	for _, t := range targets {
		if t.State == s {
			n++
		}
	}
	return n
}

func hasCanary(targets []dbv1.FleetTarget) bool {
	return slices.ContainsFunc(targets, func(t dbv1.FleetTarget) bool { return t.Wave == 0 })
}

// waves are the waves that have targets, in order.
func waves(targets []dbv1.FleetTarget) []int32 {
	var out []int32
	for _, t := range targets {
		if !slices.Contains(out, t.Wave) {
			out = append(out, t.Wave)
		}
	}
	slices.Sort(out)
	return out
}

// waveOrdinal is wave's place among the waves that have targets, from 1.
func waveOrdinal(targets []dbv1.FleetTarget, wave int32) int {
	return slices.Index(waves(targets), wave) + 1
}

// childName is the set's child for a target: <set>-<target>, shortened
// with a hash when that is longer than a name may be.
func childName(set *dbv1.DatabaseMigrationSet, ref dbv1.TargetRef) string {
	name := set.Name + "-" + ref.Name
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:240] + "-" + hex.EncodeToString(sum[:])[:12]
}

// newChild is the set's migration for a target.
func newChild(set *dbv1.DatabaseMigrationSet, ref dbv1.TargetRef, digest string) *dbv1.DatabaseMigration {
	t := set.Spec.Template.DeepCopy()
	return &dbv1.DatabaseMigration{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   set.Namespace,
			Name:        childName(set, ref),
			Labels:      map[string]string{dbv1.LabelSet: set.Name},
			Annotations: map[string]string{annotationTemplate: digest},
		},
		Spec: dbv1.DatabaseMigrationSpec{
			TargetRef:     &ref,
			Migration:     t.Migration,
			Policy:        t.Policy,
			Validation:    t.Validation,
			Rollback:      t.Rollback,
			Notifications: t.Notifications,
		},
	}
}

// templateDigest identifies a template's content.
func templateDigest(t dbv1.MigrationTemplate) string {
	b, _ := json.Marshal(t) // API types always encode
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (r *DatabaseMigrationSetReconciler) now() metav1.Time {
	if r.Clock == nil {
		return metav1.Now()
	}
	return metav1.NewTime(r.Clock.Now())
}

func (r *DatabaseMigrationSetReconciler) event(set *dbv1.DatabaseMigrationSet, kind, reason, message string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(set, nil, kind, reason, reason, "%s", message)
	}
}

// SetupWithManager watches sets, their children, and the targets that
// may join or leave them.
func (r *DatabaseMigrationSetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	allSets := func(namespaced bool) handler.MapFunc {
		return func(ctx context.Context, obj client.Object) []reconcile.Request {
			var sets dbv1.DatabaseMigrationSetList
			var opts []client.ListOption
			if namespaced {
				opts = append(opts, client.InNamespace(obj.GetNamespace()))
			}
			if err := r.List(ctx, &sets, opts...); err != nil {
				return nil
			}
			reqs := make([]reconcile.Request, len(sets.Items))
			for i, s := range sets.Items {
				reqs[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}}
			}
			return reqs
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&dbv1.DatabaseMigrationSet{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionPredicate()))).
		Owns(&dbv1.DatabaseMigration{}).
		Watches(&dbv1.DatabaseTarget{}, handler.EnqueueRequestsFromMapFunc(allSets(true)), builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Watches(&dbv1.ClusterDatabaseTarget{}, handler.EnqueueRequestsFromMapFunc(allSets(false)), builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Named("databasemigrationset").
		Complete(r)
}
