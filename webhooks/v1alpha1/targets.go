package v1alpha1

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/tenancy"
)

// databaseOf is the database dbm runs against, with every reason it may
// not: an inline database the manager refuses, a target that does not
// exist or does not admit the namespace. A nil database comes with errors.
func (v *Validator) databaseOf(ctx context.Context, dbm *dbv1.DatabaseMigration) (*dbv1.DatabaseConfig, field.ErrorList) {
	spec := &dbm.Spec
	if spec.TargetRef == nil {
		path := field.NewPath("spec", "database")
		if spec.Database == nil {
			return nil, field.ErrorList{field.Required(path, "set spec.database or spec.targetRef")}
		}
		errs := validateDatabase(*spec.Database, path)
		errs = append(errs, v.validateSQLitePath(*spec.Database, path.Child("database"))...)
		if v.RequireTargetRef {
			errs = append(errs, field.Forbidden(path, "this cluster requires spec.targetRef: inline databases are refused; "+v.usable(ctx, dbm.Namespace)))
		}
		return spec.Database, errs
	}
	path := field.NewPath("spec", "targetRef")
	var errs field.ErrorList
	if p := spec.Planning; p != nil && p.DevDatabase != nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "planning", "devDatabase"),
			"a migration on a target plans on the target's planning.devDatabase (or the operator's dev server): the platform team sets it"))
	}
	target, _, err := v.target(ctx, dbm)
	switch {
	case apierrors.IsNotFound(err):
		return nil, append(errs, field.NotFound(path.Child("name"), spec.TargetRef.Name+" ("+v.usable(ctx, dbm.Namespace)+")"))
	case err != nil:
		return nil, append(errs, field.Forbidden(path, err.Error()))
	}
	db := target.Connection()
	// The platform team's target is held to the root too: a file moved
	// or linked out since the target was admitted is refused here.
	errs = append(errs, v.validateSQLitePath(db, path)...)
	return &db, errs
}

// policyOf is the policy dbm's plans are approved under: its own,
// tightened by its target's.
func (v *Validator) policyOf(ctx context.Context, dbm *dbv1.DatabaseMigration) (dbv1.Policy, error) {
	if dbm.Spec.TargetRef == nil {
		return dbm.Spec.Policy, nil
	}
	_, policy, err := v.target(ctx, dbm)
	if err != nil {
		return dbv1.Policy{}, err
	}
	return policy.Tighten(dbm.Spec.Policy), nil
}

// target reads dbm's target and checks that it admits dbm's namespace.
func (v *Validator) target(ctx context.Context, dbm *dbv1.DatabaseMigration) (*dbv1.DatabaseTargetSpec, *dbv1.TargetPolicy, error) {
	ref := dbm.Spec.TargetRef
	if ref.Kind == dbv1.KindClusterDatabaseTarget {
		var cdt dbv1.ClusterDatabaseTarget
		if err := v.Reader.Get(ctx, client.ObjectKey{Name: ref.Name}, &cdt); err != nil {
			return nil, nil, err
		}
		admitted, err := tenancy.Admits(ctx, v.Reader, &cdt, dbm.Namespace)
		if err != nil {
			return nil, nil, err
		}
		if !admitted {
			return nil, nil, fmt.Errorf("%s %s does not admit namespace %s: ask the platform team to add it to spec.allowedNamespaces (%s)",
				dbv1.KindClusterDatabaseTarget, cdt.Name, dbm.Namespace, v.usable(ctx, dbm.Namespace))
		}
		return &cdt.Spec.DatabaseTargetSpec, cdt.Spec.Policy, nil
	}
	var dt dbv1.DatabaseTarget
	if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: ref.Name}, &dt); err != nil {
		return nil, nil, err
	}
	return &dt.Spec, dt.Spec.Policy, nil
}

// usable names the targets namespace may use, for a message.
func (v *Validator) usable(ctx context.Context, namespace string) string {
	targets, _ := tenancy.Usable(ctx, v.Reader, namespace)
	if len(targets) == 0 {
		return "namespace " + namespace + " may use no target yet"
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.ID.Kind + " " + t.ID.Name
	}
	return "namespace " + namespace + " may use: " + strings.Join(names, ", ")
}

// validateSQLitePath refuses a SQLite file that does not resolve under
// the manager's --sqlite-root (symlinks followed), and every SQLite file
// when there is no root.
func (v *Validator) validateSQLitePath(db dbv1.DatabaseConfig, path *field.Path) field.ErrorList {
	return sqlitePathErrors(v.SQLiteRoot, db, path)
}

// sqlitePathErrors is the SQLite confinement rule for a database at path.
func sqlitePathErrors(root string, db dbv1.DatabaseConfig, path *field.Path) field.ErrorList {
	if db.Type != dbv1.DatabaseTypeSQLite {
		return nil
	}
	if root == "" {
		return field.ErrorList{field.Forbidden(path, "SQLite files are refused: the manager runs without --sqlite-root (the platform team sets it where SQLite files may live)")}
	}
	if _, err := database.ConfineSQLitePath(root, db.Database); err != nil {
		return field.ErrorList{field.Invalid(path, db.Database, err.Error())}
	}
	return nil
}
