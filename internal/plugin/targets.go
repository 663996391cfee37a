package plugin

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
			rows, err := tenancy.Usable(cmd.Context(), c, ns)
			if err != nil {
				return err
			}
			writeTargets(o.Streams.Out, ns, rows)
			return nil
		},
	}
}

func writeTargets(out io.Writer, namespace string, rows []tenancy.Target) {
	if len(rows) == 0 {
		fmt.Fprintf(out, "No targets in namespace %s: ask the platform team for a DatabaseTarget.\n", namespace)
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tTYPE\tWHERE\tREADY\tMIGRATIONS\tMESSAGE")
	for _, r := range rows {
		ref := r.ID.Name
		if r.ID.Kind == dbv1.KindClusterDatabaseTarget {
			ref = r.ID.Kind + "/" + r.ID.Name
		}
		where := r.Spec.Database
		if r.Spec.Type != dbv1.DatabaseTypeSQLite {
			where = r.Spec.Host + "/" + r.Spec.Database
		}
		ready, message := "Unknown", "not checked yet"
		if c := meta.FindStatusCondition(r.Status.Conditions, dbv1.ConditionReady); c != nil && c.ObservedGeneration == r.Generation {
			ready, message = string(c.Status), c.Message
			if c.Status == metav1.ConditionTrue {
				message = r.Status.ServerVersion
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", ref, r.Spec.Type, where, ready, strconv.Itoa(int(r.Status.Migrations)), message)
	}
	_ = w.Flush()
}
