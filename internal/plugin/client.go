package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/plandoc"
)

// Options carries what every cluster verb needs: where the cluster is and
// where to write.
type Options struct {
	Flags   *genericclioptions.ConfigFlags
	Streams genericiooptions.IOStreams
}

// client builds a client (one that can watch, for status -w) and resolves
// the namespace from the kubeconfig flags, as kubectl does.
func (o *Options) client() (client.WithWatch, string, error) {
	cfg, err := o.Flags.ToRESTConfig()
	if err != nil {
		return nil, "", err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	if err := dbv1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", err
	}
	c = printableClient{c}
	ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// get fetches one DatabaseMigration by name.
func (o *Options) get(ctx context.Context, name string) (client.WithWatch, *dbv1.DatabaseMigration, error) {
	c, ns, err := o.client()
	if err != nil {
		return nil, nil, err
	}
	dbm := &dbv1.DatabaseMigration{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dbm); err != nil {
		return nil, nil, fmt.Errorf("getting databasemigration %s/%s: %w", ns, name, err)
	}
	return c, dbm, nil
}

// completeNames completes a migration's name from the cluster: the
// migrations of the namespace the flags name, each with its phase.
func (o *Options) completeNames(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, ns, err := o.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	list := &dbv1.DatabaseMigrationList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, dbm := range list.Items {
		if strings.HasPrefix(dbm.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(dbm.Name, orNone(string(dbm.Status.Phase))))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// showPlan gathers what the verbs show of dbm's plan: status, and the
// whole plan when status cuts it (or why it cannot be shown).
func showPlan(ctx context.Context, c client.Client, dbm *dbv1.DatabaseMigration) shownPlan {
	full, err := fullPlan(ctx, c, dbm)
	return shownPlan{status: dbm.Status.Plan, rollback: dbm.Status.RollbackPlan, full: full, fullErr: err}
}

// fullPlan reads the whole plan of a migration whose plan is cut in
// status, from the ConfigMap status names, and returns it only when it is
// the plan the operator wrote there: its plan.json hashes to
// status.plan.configMapDigest (status is written by the operator alone;
// the ConfigMap by anyone who writes ConfigMaps in the namespace) and
// names status.plan.hash. It returns nil, nil when status holds the whole
// plan.
func fullPlan(ctx context.Context, c client.Client, dbm *dbv1.DatabaseMigration) (*plandoc.Document, error) {
	p := dbm.Status.Plan
	if p == nil || !p.Truncated {
		return nil, nil
	}
	if p.ConfigMapName == "" {
		return nil, errors.New("status.plan is truncated and names no ConfigMap holding the whole plan")
	}
	cm := &corev1.ConfigMap{}
	switch err := c.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: p.ConfigMapName}, cm); {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("ConfigMap %s/%s, which holds the whole plan, does not exist", dbm.Namespace, p.ConfigMapName)
	case err != nil:
		return nil, fmt.Errorf("reading ConfigMap %s/%s, which holds the whole plan: %w", dbm.Namespace, p.ConfigMapName, err)
	}
	doc, err := plandoc.Verify(cm, p.Hash, p.ConfigMapDigest)
	if err == nil {
		printable(doc) // read whole through printableClient, verified, then shown
	}
	return doc, err
}
