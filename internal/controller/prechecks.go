package controller

import (
	"context"
	"fmt"
	"strings"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// runPreChecks runs spec.validation.preChecks against the target before
// anything is applied. A failed connection is transient (the apply would
// fail the same way and is retried); missing privileges are permanent until
// someone grants them. disk-space is not checked by this version: the
// admission webhook warns about it.
func runPreChecks(ctx context.Context, dbm *dbv1.DatabaseMigration, target *database.Target) error {
	v := dbm.Spec.Validation
	if v == nil || len(v.PreChecks) == 0 {
		return nil
	}
	db, err := target.Open(ctx)
	if err != nil {
		return fmt.Errorf("pre-check connection: %w", err)
	}
	defer func() { _ = db.Close() }()
	for _, c := range v.PreChecks {
		switch c.Type {
		case dbv1.PreCheckConnection:
			if _, err := target.Engine.ServerVersion(ctx, db); err != nil {
				return fmt.Errorf("pre-check connection: %w", err)
			}
		case dbv1.PreCheckPermissions:
			missing, err := target.Engine.MissingPrivileges(ctx, db, target.Schema())
			if err != nil {
				return fmt.Errorf("pre-check permissions: %w", err)
			}
			if len(missing) > 0 {
				return Permanent(dbv1.ReasonPreCheckFailed, fmt.Errorf(
					"pre-check permissions: the database user lacks %s; nothing was applied", strings.Join(missing, ", ")))
			}
		}
	}
	return nil
}
