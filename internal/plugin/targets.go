package plugin

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/tenancy"
)

func targetsCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "targets",
		Short: "List the DatabaseTargets and ClusterDatabaseTargets the current namespace may migrate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			rows, err := usableTargets(cmd.Context(), c, ns)
			if err != nil {
				return err
			}
			writeTargets(o.Streams.Out, ns, rows)
			return nil
		},
	}
}

// targetRow is one target as `targets` shows it.
type targetRow struct {
	ref        string
	spec       *dbv1.DatabaseTargetSpec
	status     dbv1.DatabaseTargetStatus
	generation int64
}

// usableTargets lists the targets of namespace and the cluster targets
// that admit it. A user who may not list cluster targets still sees the
// namespace's own.
func usableTargets(ctx context.Context, c client.Client, namespace string) ([]targetRow, error) {
	var rows []targetRow
	var dts dbv1.DatabaseTargetList
	if err := c.List(ctx, &dts, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing DatabaseTargets in %s: %w", namespace, err)
	}
	for i := range dts.Items {
		t := &dts.Items[i]
		rows = append(rows, targetRow{ref: t.Name, spec: &t.Spec, status: t.Status, generation: t.Generation})
	}
	var cdts dbv1.ClusterDatabaseTargetList
	if err := c.List(ctx, &cdts); err != nil {
		return rows, nil //nolint:nilerr // cluster targets are listed when the user may read them
	}
	for i := range cdts.Items {
		t := &cdts.Items[i]
		if ok, err := tenancy.Admits(ctx, c, t, namespace); err != nil || !ok {
			continue
		}
		rows = append(rows, targetRow{ref: dbv1.KindClusterDatabaseTarget + "/" + t.Name, spec: &t.Spec.DatabaseTargetSpec, status: t.Status, generation: t.Generation})
	}
	return rows, nil
}

func writeTargets(out io.Writer, namespace string, rows []targetRow) {
	if len(rows) == 0 {
		fmt.Fprintf(out, "No targets in namespace %s: ask the platform team for a DatabaseTarget.\n", namespace)
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tTYPE\tWHERE\tREADY\tMIGRATIONS\tMESSAGE")
	for _, r := range rows {
		where := r.spec.Database
		if r.spec.Type != dbv1.DatabaseTypeSQLite {
			where = r.spec.Host + "/" + r.spec.Database
		}
		ready, message := "Unknown", "not checked yet"
		if c := meta.FindStatusCondition(r.status.Conditions, dbv1.ConditionReady); c != nil && c.ObservedGeneration == r.generation {
			ready, message = string(c.Status), c.Message
			if c.Status == metav1.ConditionTrue {
				message = r.status.ServerVersion
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ref, r.spec.Type, where, ready, strconv.Itoa(int(r.status.Migrations)), message)
	}
	_ = w.Flush()
}
