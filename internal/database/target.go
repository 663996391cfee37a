package database

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlclient"
)

// Secret keys a connection Secret may hold.
const (
	SecretKeyURL      = "url"
	SecretKeyUsername = "username"
	SecretKeyPassword = "password"
)

// Target is one database to migrate: its engine and Atlas-style URL. The
// URL carries credentials; String and errors never show them.
type Target struct {
	Engine Engine
	URL    *url.URL
	// RootCAs, when set, are the only authorities the server's certificate
	// may chain to when the URL's sslmode is verify-ca or verify-full (a
	// CA given in Config.CA); nil, or another sslmode, leaves it to the URL
	// (the system's authorities, or a file it names).
	RootCAs *x509.CertPool
	// Limit, when set, bounds the connections open to a server's
	// database at once, shared by every Target holding it.
	Limit *ConnLimit
	// NotOn, when set, is a server (its ServerID) no connection of the
	// target may reach: each connection is checked as it opens, redials
	// included, and refused with ErrForbiddenServer when it does.
	NotOn string
}

// ParseURL reads an Atlas-style URL: sqlite://PATH,
// postgres://user:pass@host:port/db?sslmode=disable,
// mysql://user:pass@host:port/db (maria:// and mariadb:// too).
func ParseURL(raw string) (*Target, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("database URL has no scheme: want sqlite://, postgres:// or mysql://")
	}
	e, err := forScheme(scheme)
	if err != nil {
		return nil, err
	}
	var u *url.URL
	if e.Name() == sqliteName {
		// A file path is not a host: sqlite://relative/path, sqlite://:memory:.
		path, query, _ := strings.Cut(rest, "?")
		u = &url.URL{Scheme: "sqlite", Path: path, RawQuery: query}
	} else if u, err = url.Parse(raw); err != nil {
		return nil, fmt.Errorf("database URL: %w", redactURLError(err))
	}
	if u.Host == "" && e.Name() != sqliteName {
		return nil, fmt.Errorf("database URL %s has no host", e.Redact(u))
	}
	if e.Name() == (postgresEngine{}).Name() && len(queryValuesFold(u, "search_path")) > 1 {
		return nil, fmt.Errorf("database URL %s sets search_path more than once: the server would take either", e.Redact(u))
	}
	if c, ok := e.(parameterChecker); ok {
		// Read as a driver may: pgx parses the URL's text itself, where a
		// '#' is no fragment and spaces around a key are trimmed.
		if strings.Contains(raw, "#") {
			return nil, fmt.Errorf("database URL %s: a '#' is refused: a driver reads what follows it as parameters", e.Redact(u))
		}
		for key, values := range u.Query() {
			if strings.TrimSpace(key) != key {
				return nil, fmt.Errorf("database URL %s: parameter %q is refused: a key with spaces around it", e.Redact(u), key)
			}
			if why := c.refused(strings.ToLower(key), values); why != "" {
				return nil, fmt.Errorf("database URL %s: parameter %s is refused: %s", e.Redact(u), key, why)
			}
		}
	}
	return &Target{Engine: e, URL: u}, nil
}

// parameterChecker is an engine whose driver reads parameters in the
// URL's query that a URL may not set. A URL comes from a Secret its
// namespace's authors may write (a migration's, a target's, a dev
// database's), and the operator connects with it before any review: it
// gives the credentials and how to talk to the server, not another place
// than its authority and path say (the plan's identity, the pinning to a
// target or to spec.database and the dev server's separation read those)
// nor a file of the operator's disk (its service account token, its
// webhook key).
type parameterChecker interface {
	// refused says why the parameter (its name in lower case) is
	// refused; "" allows it.
	refused(key string, values []string) string
}

// FromConfig builds the target of a Config and its Secret's data (nil for
// sqlite): a full `url`, or `username` and `password`. A CA in cfg must
// parse and the connection must verify with it (ErrCAInvalid, ErrCAUnused):
// a url that asks for less than the CA implies is refused, not weakened.
func FromConfig(cfg Config, secret map[string][]byte) (*Target, error) {
	t, err := fromConfig(cfg, secret)
	if err != nil {
		return nil, err
	}
	if err := t.trust(cfg.CA); err != nil {
		return nil, err
	}
	return t, nil
}

func fromConfig(cfg Config, secret map[string][]byte) (*Target, error) {
	e, err := For(cfg.Kind)
	if err != nil {
		return nil, err
	}
	if raw := string(secret[SecretKeyURL]); raw != "" {
		t, err := ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("connection Secret key %q: %w", SecretKeyURL, err)
		}
		if t.Engine != e {
			return nil, fmt.Errorf("connection Secret key %q is a %s URL but the database type is %s", SecretKeyURL, t.URL.Scheme, cfg.Kind)
		}
		if err := t.pinnedTo(cfg); err != nil {
			return nil, fmt.Errorf("connection Secret key %q: %w", SecretKeyURL, err)
		}
		if err := t.scope(cfg.Schema); err != nil {
			return nil, err
		}
		return confined(t, cfg.SQLiteRoot)
	}
	if cfg.Kind != KindSQLite && len(secret[SecretKeyUsername]) == 0 {
		return nil, fmt.Errorf("connection Secret has neither %q nor %q", SecretKeyURL, SecretKeyUsername)
	}
	u, err := e.BuildURL(cfg, string(secret[SecretKeyUsername]), string(secret[SecretKeyPassword]))
	if err != nil {
		return nil, err
	}
	t := &Target{Engine: e, URL: u}
	if err := t.scope(cfg.Schema); err != nil {
		return nil, err
	}
	return confined(t, cfg.SQLiteRoot)
}

// pinnedTo refuses a url that names another database than cfg: the
// spec says where (what status shows a reviewer; a target's is the
// platform team's), the url only how to connect. The server is checked
// where cfg names one: an inline database may leave its host to the url.
// A cfg that names no database (the API requires one; a caller outside
// it may not) pins nothing.
func (t *Target) pinnedTo(cfg Config) error {
	if cfg.Database == "" {
		return nil
	}
	if t.Engine.Name() == sqliteName {
		if t.URL.RawQuery != "" {
			return errors.New("it has parameters (mode=memory would open no file at all): give the file alone")
		}
		if path.Clean(t.URL.Path) != path.Clean(cfg.Database) {
			return fmt.Errorf("its file %s is not the database's, %s", t.URL.Path, cfg.Database)
		}
		return nil
	}
	if db := strings.TrimPrefix(t.URL.Path, "/"); db != cfg.Database {
		return fmt.Errorf("it names database %q, the spec %q: give the spec's database, or only username and password", db, cfg.Database)
	}
	if cfg.Host == "" {
		return nil
	}
	port := cfg.Port
	if port == 0 {
		port = cfg.Kind.DefaultPort()
	}
	if want := net.JoinHostPort(strings.ToLower(cfg.Host), strconv.Itoa(int(port))); t.Server() != want {
		return fmt.Errorf("it names server %s, the spec %s: give the spec's host and port, or only username and password", t.Server(), want)
	}
	return nil
}

// scope binds the target to schema (PostgreSQL's search_path), over
// whatever the URL said: the schema is the platform's choice, not the
// Secret's.
func (t *Target) scope(schema string) error {
	if schema == "" {
		return nil
	}
	if t.Engine.Name() != (postgresEngine{}).Name() {
		return fmt.Errorf("a schema is for PostgreSQL targets; a %s schema is its database", t.Engine.Name())
	}
	t.URL.RawQuery = withQueryParam(t.URL.RawQuery, "search_path", schema)
	return nil
}

// withQueryParam returns raw, a URL's query, with key set to value and
// every other pair as it was, in its place. Re-encoding the whole query
// (url.Values) would sort it, which changes what pgx reads (ssl after
// sslmode wins), and turn a space's %20 into +, which pgx, reading the
// query as libpq does, keeps as a plus.
func withQueryParam(raw, key, value string) string {
	var pairs []string
	for pair := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(pair, "=")
		// Any case: pgx passes Search_Path on as it is, and the server,
		// whose settings' names know no case, would take either.
		if dk, err := url.QueryUnescape(k); pair == "" || err == nil && strings.EqualFold(dk, key) {
			continue
		}
		pairs = append(pairs, pair)
	}
	pairs = append(pairs, key+"="+strings.ReplaceAll(url.QueryEscape(value), "+", "%20"))
	return strings.Join(pairs, "&")
}

// WithURL is a target on t's server reached as t is (its engine, the
// authorities it trusts) at u: another database there, or other driver
// parameters. t's Limit is not carried over.
func (t *Target) WithURL(u *url.URL) *Target {
	return &Target{Engine: t.Engine, URL: u, RootCAs: t.RootCAs, NotOn: t.NotOn}
}

// Nominal is the database cfg names, without credentials: a target to
// name (a plan's identity, the schema its statements stay in), not to
// open. It serves where the database itself is out of reach, as in a
// pull request's CI.
func Nominal(cfg Config) (*Target, error) {
	e, err := For(cfg.Kind)
	if err != nil {
		return nil, err
	}
	u, err := e.BuildURL(cfg, "", "")
	if err != nil {
		return nil, err
	}
	u.User = nil
	return &Target{Engine: e, URL: u}, nil
}

// String is the target's URL without credentials.
func (t *Target) String() string { return t.Engine.Redact(t.URL) }

// Identity names the database without credentials or options (engine,
// host, port, database and schema): the part of a plan's hash that says
// where it applies.
func (t *Target) Identity() string { return t.Engine.Identity(t.URL) }

// Ephemeral reports whether the database lives only as long as its handle
// (SQLite in memory): nothing needs cleaning up after it.
func (t *Target) Ephemeral() bool { return t.Engine.Name() == sqliteName && inMemory(t.URL) }

// Server names the server the target is on (lower-case host and port, the
// engine's default port when the URL has none), or the file for SQLite: two
// targets with the same Server share one server.
func (t *Target) Server() string {
	if t.Engine.Name() == sqliteName {
		return t.Identity()
	}
	if n, ok := t.Engine.(serverNamer); ok {
		if server, ok := n.server(t.URL); ok {
			return server
		}
	}
	host, port := strings.ToLower(t.URL.Hostname()), t.URL.Port()
	if port == "" {
		port = strconv.Itoa(int(t.Engine.Kinds()[0].DefaultPort()))
	}
	return net.JoinHostPort(host, port)
}

// serverNamer is an engine whose driver may connect elsewhere than the
// URL's host says: server names where, as Target.Server does, and false
// when the driver would not connect at all.
type serverNamer interface {
	server(u *url.URL) (string, bool)
}

// Schema is the schema migrated.
func (t *Target) Schema() string { return t.Engine.Schema(t.URL) }

// Open connects to the target. A failure is a *ConnectionError.
func (t *Target) Open(ctx context.Context) (*sql.DB, error) {
	var db *sql.DB
	var err error
	switch {
	case t.Limit != nil && t.Engine.Server():
		db, err = openLimited(ctx, t, t.Limit)
	case t.NotOn != "":
		db, err = openChecked(ctx, t)
	default:
		db, err = t.Engine.Open(ctx, t.URL, t.RootCAs)
	}
	if errors.Is(err, ErrLockBusy) || errors.Is(err, ErrForbiddenServer) {
		return nil, err
	}
	if err != nil {
		return nil, &ConnectionError{Target: t.String(), Err: redactURLError(err)}
	}
	return db, nil
}

// Client wraps q (a pool, a connection or a transaction on the target) in
// Atlas's client. sqlclient.Open is not used: it picks database/sql driver
// names (mattn's sqlite3) other than the ones kube-shift links.
func (t *Target) Client(db *sql.DB, q schema.ExecQuerier) (*sqlclient.Client, error) {
	if q == nil {
		q = db
	}
	drv, err := t.Engine.Driver(q)
	if err != nil {
		return nil, fmt.Errorf("%s: opening the Atlas driver: %w", t, err)
	}
	return &sqlclient.Client{
		Name:   t.Engine.Name(),
		DB:     db,
		URL:    &sqlclient.URL{URL: t.URL, Schema: t.Schema()},
		Driver: drv,
	}, nil
}

// Driver opens Atlas's driver on q.
func (t *Target) Driver(q schema.ExecQuerier) (migrate.Driver, error) {
	return t.Engine.Driver(q)
}

// Bound returns q with ctx for the calls made on it with a context that
// can never end. Atlas opens its drivers with context.Background (a
// version query): on a network path that stalls, that query would wait
// forever, past the apply's deadline. Calls with a context of their own
// keep it.
func Bound(ctx context.Context, q schema.ExecQuerier) schema.ExecQuerier {
	return bound{q: q, ctx: ctx}
}

type bound struct {
	q   schema.ExecQuerier
	ctx context.Context
}

func (b bound) pick(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return b.ctx
	}
	return ctx
}

func (b bound) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return b.q.ExecContext(b.pick(ctx), query, args...)
}

func (b bound) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return b.q.QueryContext(b.pick(ctx), query, args...)
}

// queryValuesFold returns the values of u's query parameters named key
// in any case.
func queryValuesFold(u *url.URL, key string) []string {
	var values []string
	for k, vs := range u.Query() {
		if strings.EqualFold(k, key) {
			values = append(values, vs...)
		}
	}
	return values
}
