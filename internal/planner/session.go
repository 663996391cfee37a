package planner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlclient"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// liveState is the target's schema as inspected for one plan.
type liveState struct {
	target  *database.Target
	q       database.Querier
	drv     migrate.Driver
	schema  *schema.Schema
	views   []database.View
	exclude []string
	// fingerprint is the canonical text of schema and views (see
	// fingerprint), part of every plan's hash.
	fingerprint string
}

func openLive(ctx context.Context, target *database.Target, db *sql.DB, q database.Querier, exclude []string) (*liveState, error) {
	drv, err := target.Driver(database.Bound(ctx, q))
	if err != nil {
		return nil, connErr(target, err)
	}
	s, err := inspectTarget(ctx, target, q, drv, exclude)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", target, err)
	}
	views, err := target.Engine.Views(ctx, q, target.Schema())
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", target, err)
	}
	live := &liveState{target: target, q: q, drv: drv, schema: s, views: excludeViews(views, exclude), exclude: exclude}
	if live.fingerprint, err = fingerprint(ctx, live); err != nil {
		return nil, fmt.Errorf("fingerprinting the schema of %s: %w", target, err)
	}
	return live, nil
}

// inspectTarget inspects the target's schema through drv, bound to q,
// under the engine's settings for an inspection (see
// database.Engine.Inspecting).
func inspectTarget(ctx context.Context, target *database.Target, q database.Querier, drv migrate.Driver, exclude []string) (*schema.Schema, error) {
	var s *schema.Schema
	err := target.Engine.Inspecting(ctx, q, func() error {
		var err error
		s, err = drv.InspectSchema(ctx, target.Schema(), inspectOptions(exclude))
		return err
	})
	return s, err
}

// devState is the dev database of one plan: empty when opened, emptied
// (or dropped) when closed.
type devState struct {
	target *database.Target
	db     *sql.DB
	drv    migrate.Driver
	client *sqlclient.Client
	// drop drops a scratch database; nil for a configured one, which is
	// emptied instead.
	drop func(context.Context) error
	// known is the dev schema as last inspected in full, so emptying it
	// needs no new inspection; nil when unknown.
	known *schema.Schema
}

// openDev opens the dev database a plan replays on: the migration's own
// (DevURL), a scratch database on the operator's dev server of the
// target's engine, or, for SQLite, an in-memory database that can reach no
// file. Replay is code execution, so it never happens on the target's
// server: an engine with neither is refused, and so is a dev server that
// q, a session on the target (nil when none is open), shows to be the
// target's under another name.
func (p *Planner) openDev(ctx context.Context, target *database.Target, q database.Querier) (*devState, error) {
	// Every connection to the dev server is checked as it opens against
	// the target's server (Target.NotOn), before anything runs or is
	// emptied there: names compared before connecting miss another name
	// for its address, and a pool's redial may land elsewhere than its
	// first connection.
	var notOn string
	if q != nil && target.Engine.Server() {
		var err error
		if notOn, err = target.Engine.ServerID(ctx, q); err != nil {
			return nil, err
		}
	}
	dev := &devState{}
	switch {
	case p.DevURL != "":
		t, err := database.ParseURL(p.DevURL)
		if err != nil {
			return nil, fmt.Errorf("dev database: %w", err)
		}
		if t.Engine != target.Engine {
			return nil, fmt.Errorf("dev database %s is not a %s database", t, target.Engine.Name())
		}
		if target.Engine.Server() && t.Server() == target.Server() {
			return nil, &DevDatabaseError{Reason: fmt.Sprintf("the dev database %s is on the target's server: replay runs the scripts, and a dev database is emptied before and after each plan; give planning.devDatabase a separate, empty server", t)}
		}
		// The migration's dev database is its target's planning.devDatabase,
		// a server of the same platform team: the CA the team gave for the
		// target verifies it too, when its URL asks for verification.
		t.RootCAs = target.RootCAs
		t.NotOn = notOn
		dev.target = t
	case !target.Engine.Server():
		// In memory, where the database package confines it to no file.
		u, _, err := target.Engine.Scratch(ctx, nil, nil)
		if err != nil {
			return nil, err
		}
		dev.target = &database.Target{Engine: target.Engine, URL: u}
	default:
		server, ok := p.DevServers[target.Engine.Name()]
		if !ok || server == "" {
			return nil, &DevDatabaseError{Reason: fmt.Sprintf("no dev database for %s: the operator has no dev server for this engine (manager flag --dev-database=%s=URL) and the migration names no planning.devDatabase; the target's own server is never used to replay scripts", target.Engine.Name(), target.Engine.Name())}
		}
		t, err := database.ParseURL(server)
		if err != nil {
			return nil, fmt.Errorf("the operator's %s dev server: %w", target.Engine.Name(), err)
		}
		if t.Server() == target.Server() {
			return nil, &DevDatabaseError{Reason: fmt.Sprintf("the target %s is on the operator's %s dev server: migrations cannot target the dev server", target, target.Engine.Name())}
		}
		t.NotOn = notOn
		serverDB, err := t.Open(ctx)
		if errors.Is(err, database.ErrForbiddenServer) {
			return nil, &DevDatabaseError{Reason: fmt.Sprintf("the target %s is the operator's %s dev server under another name: migrations cannot target the dev server", target, target.Engine.Name())}
		}
		if err != nil {
			return nil, fmt.Errorf("the operator's %s dev server: %w", target.Engine.Name(), err)
		}
		u, drop, err := target.Engine.Scratch(ctx, serverDB, t.URL)
		if err != nil {
			_ = serverDB.Close()
			return nil, err
		}
		dev.target = t.WithURL(u)
		dev.drop = func(ctx context.Context) error {
			defer func() { _ = serverDB.Close() }()
			return drop(ctx)
		}
	}
	var err error
	if dev.db, err = dev.target.Open(ctx); err != nil {
		if errors.Is(err, database.ErrForbiddenServer) {
			return nil, &DevDatabaseError{Reason: fmt.Sprintf("the dev database %s is on the target's server, under another name: replay runs the scripts, and a dev database is emptied before and after each plan; give planning.devDatabase a separate, empty server", dev.target)}
		}
		dev.close()
		return nil, err
	}
	if dev.client, err = dev.target.Client(dev.db, nil); err != nil {
		dev.close()
		return nil, err
	}
	dev.drv = dev.client.Driver
	if dev.drop == nil && !dev.target.Ephemeral() {
		// A configured dev database may hold a previous run's debris.
		if err := dev.reset(ctx); err != nil {
			dev.close()
			return nil, fmt.Errorf("emptying dev database %s: %w", dev.target, err)
		}
	}
	return dev, nil
}

// close empties or drops the dev database. Errors are dropped: the plan is
// computed, and a scratch database left behind has a recognisable name.
func (d *devState) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d.db != nil && d.drop == nil && !d.target.Ephemeral() {
		_ = d.reset(ctx)
	}
	if d.db != nil {
		_ = d.db.Close()
	}
	if d.drop != nil {
		_ = d.drop(ctx)
	}
}

// reset drops everything in the dev schema.
func (d *devState) reset(ctx context.Context) error {
	views, err := d.target.Engine.Views(ctx, d.db, d.target.Schema())
	if err != nil {
		return err
	}
	for _, v := range views {
		if _, err := d.db.ExecContext(ctx, "DROP VIEW "+d.target.Engine.Quote(v.Name)); err != nil {
			return err
		}
	}
	current := d.known
	if current == nil {
		if current, err = d.inspect(ctx); err != nil {
			return err
		}
	}
	d.known = nil
	if len(current.Tables) == 0 {
		return nil
	}
	changes, err := d.drv.SchemaDiff(current, &schema.Schema{Name: current.Name, Attrs: current.Attrs})
	if err != nil {
		return err
	}
	return d.drv.ApplyChanges(ctx, changes, unqualified)
}

// inspect returns the dev schema.
func (d *devState) inspect(ctx context.Context) (*schema.Schema, error) {
	s, err := d.inspectSchema(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspecting the dev database: %w", err)
	}
	return s, nil
}

// inspectSchema inspects the dev schema on one session of the pool,
// under the engine's settings for an inspection (see
// database.Engine.Inspecting).
func (d *devState) inspectSchema(ctx context.Context) (*schema.Schema, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	drv, err := d.target.Engine.Driver(conn)
	if err != nil {
		return nil, err
	}
	var s *schema.Schema
	err = d.target.Engine.Inspecting(ctx, conn, func() error {
		var err error
		s, err = drv.InspectSchema(ctx, d.target.Schema(), nil)
		return err
	})
	return s, err
}

func (d *devState) views(ctx context.Context) ([]database.View, error) {
	return d.target.Engine.Views(ctx, d.db, d.target.Schema())
}

// load creates s (tables of another schema, such as the live one) and
// views in the dev schema.
func (d *devState) load(ctx context.Context, s *schema.Schema, views []database.View) error {
	if len(s.Tables) > 0 {
		changes, err := d.drv.SchemaDiff(&schema.Schema{Name: s.Name, Attrs: s.Attrs}, s)
		if err != nil {
			return err
		}
		if err := d.drv.ApplyChanges(ctx, changes, unqualified); err != nil {
			return err
		}
	}
	for _, v := range views {
		if _, err := d.db.ExecContext(ctx, createView(d.target.Engine, v)); err != nil {
			return fmt.Errorf("creating view %s on the dev database: %w", v.Name, err)
		}
	}
	return nil
}

// unqualified plans statements without a schema name: they run in the
// schema the connection is bound to, on the target as on the dev database.
func unqualified(o *migrate.PlanOptions) {
	empty := ""
	o.SchemaQualifier = &empty
}

func connErr(target *database.Target, err error) error {
	return &database.ConnectionError{Target: target.String(), Err: err}
}
