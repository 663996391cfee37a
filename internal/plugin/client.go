package plugin

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// Options carries what every cluster verb needs: where the cluster is and
// where to write.
type Options struct {
	Flags   *genericclioptions.ConfigFlags
	Streams genericiooptions.IOStreams
}

// client builds a client and resolves the namespace from the kubeconfig
// flags, as kubectl does.
func (o *Options) client() (client.Client, string, error) {
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
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", err
	}
	ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// get fetches one DatabaseMigration by name.
func (o *Options) get(ctx context.Context, name string) (client.Client, *dbv1.DatabaseMigration, error) {
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
