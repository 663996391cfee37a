package database

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	atlasmysql "ariga.io/atlas/sql/mysql"
	"ariga.io/atlas/sql/schema"
	"github.com/go-sql-driver/mysql"
)

func init() { register(mysqlEngine{}) }

// mysqlEngine is MySQL and MariaDB through go-sql-driver/mysql; Atlas's
// driver tells them apart by the server version.
type mysqlEngine struct{}

func (mysqlEngine) Name() string { return atlasmysql.DriverName }

func (mysqlEngine) Kinds() []Kind { return []Kind{KindMySQL, KindMariaDB} }

func (mysqlEngine) Schemes() []string { return []string{"mysql", "maria", "mariadb"} }

// tlsFor maps PostgreSQL's sslmode vocabulary, which the API uses, to the
// URL's tls parameter: the driver's values, and verify-ca, which the driver
// lacks (its true checks the host name too) and connector builds itself.
var tlsFor = map[SSLMode]string{
	SSLModeDisable:    "false",
	SSLModeAllow:      "preferred",
	SSLModePrefer:     "preferred",
	SSLModeRequire:    "skip-verify",
	SSLModeVerifyCA:   string(SSLModeVerifyCA),
	SSLModeVerifyFull: "true",
}

// sslModeOf is the mode of a tls parameter, the inverse of tlsFor; a
// kube-shift URL may say verify-full too. The driver's default is no TLS.
var sslModeOf = map[string]SSLMode{
	"":                        SSLModeDisable,
	"false":                   SSLModeDisable,
	"preferred":               SSLModePrefer,
	"skip-verify":             SSLModeRequire,
	"true":                    SSLModeVerifyFull,
	string(SSLModeVerifyCA):   SSLModeVerifyCA,
	string(SSLModeVerifyFull): SSLModeVerifyFull,
}

func (mysqlEngine) BuildURL(cfg Config, user, password string) (*url.URL, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("database host is required for %s", cfg.Kind)
	}
	port := cfg.Port
	if port == 0 {
		port = cfg.Kind.DefaultPort()
	}
	ssl := cfg.SSLMode
	if ssl == "" {
		ssl = cfg.Kind.DefaultSSLMode()
	}
	return &url.URL{
		Scheme:   "mysql",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(cfg.Host, strconv.Itoa(int(port))),
		Path:     "/" + cfg.Database,
		RawQuery: url.Values{"tls": {tlsFor[ssl]}}.Encode(),
	}, nil
}

// SSLMode is the mode of the URL's tls parameter; "" for a TLS
// configuration name of the driver's, which says nothing kube-shift knows.
func (mysqlEngine) SSLMode(u *url.URL) SSLMode {
	return sslModeOf[strings.ToLower(u.Query().Get("tls"))]
}

// config turns an Atlas-style URL into the driver's configuration; the
// driver's own parser reads every other parameter and validates it. Under
// verify-ca or verify-full the TLS configuration is kube-shift's, against
// roots (nil: the system's).
func (e mysqlEngine) config(u *url.URL, roots *x509.CertPool) (*mysql.Config, error) {
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return nil, fmt.Errorf("database name %q holds a slash", db)
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = hostPort(u, "3306")
	cfg.DBName = db
	cfg.ParseTime = true
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	q := u.Query()
	mode := e.SSLMode(u)
	if tls := q.Get("tls"); tls != "" && !verifies(mode) {
		cfg.TLSConfig = tls
	}
	q.Del("tls")
	if len(q) > 0 {
		dsn := cfg.FormatDSN()
		parsed, err := mysql.ParseDSN(dsn + paramSep(dsn) + q.Encode())
		if err != nil {
			return nil, err
		}
		cfg = parsed
	}
	if verifies(mode) {
		cfg.TLS = verifyingTLS(mode, u.Hostname(), roots)
	}
	// ParseURL refuses both; set here too, whatever the DSN said.
	cfg.AllowAllFiles, cfg.MultiStatements = false, false
	return cfg, nil
}

// refused are the URL parameters the driver reads that a URL may not set
// (see parameterChecker): allowAllFiles hands any file of the operator's
// disk to a server that asks for it (LOAD DATA LOCAL INFILE, in answer to
// any query: a server a Secret names may be anyone's), multiStatements
// would let the server run statements the SQL gate never read as such
// (it reads one statement at a time), and a character set other than
// UTF-8, Latin-1 or ASCII (GBK, Shift-JIS, Big5) has multi-byte
// characters whose second byte is a backslash, which can end a literal
// the operator quoted early.
func (mysqlEngine) refused(key string, values []string) string {
	switch key {
	case "allowallfiles":
		return "it lets the server read any file of the operator's disk"
	case "multistatements":
		return "the SQL gate reads one statement at a time"
	case "interpolateparams":
		return "the driver would quote the operator's arguments itself, in the connection's character set"
	case "charset", "collation":
		for _, v := range values {
			for name := range strings.SplitSeq(v, ",") {
				if !safeCharset(name) {
					return fmt.Sprintf("%q is not a UTF-8, Latin-1 or ASCII character set", name)
				}
			}
		}
	default:
		if !mysqlDriverParams[key] {
			// The driver sends any other parameter as SET <name> =
			// <value> on every connection: the session's settings (its
			// character set, sql_mode, foreign_key_checks) are not a
			// Secret's to choose.
			return "the driver would send it to the server as a session setting"
		}
	}
	return ""
}

// mysqlDriverParams are the parameters the driver reads itself (its DSN
// parser's), in lower case; tls is read by config.
var mysqlDriverParams = map[string]bool{
	"allowcleartextpasswords": true, "allowfallbacktoplaintext": true, "allownativepasswords": true,
	"allowoldpasswords": true, "checkconnliveness": true, "clientfoundrows": true, "charset": true,
	"collation": true, "columnswithalias": true, "compress": true, "loc": true, "parsetime": true,
	"timetruncate": true, "readtimeout": true, "rejectreadonly": true, "serverpubkey": true,
	"strict": true, "timeout": true, "tls": true, "writetimeout": true, "maxallowedpacket": true,
	"connectionattributes": true,
}

// safeCharset: the character sets (or collations of them) in which no
// multi-byte character holds a backslash or a quote.
func safeCharset(name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, prefix := range []string{"utf8", "latin1", "ascii", "binary"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

func paramSep(dsn string) string {
	if strings.Contains(dsn[strings.LastIndex(dsn, "/"):], "?") {
		return "&"
	}
	return "?"
}

func (e mysqlEngine) connector(u *url.URL, roots *x509.CertPool) (driver.Connector, error) {
	cfg, err := e.config(u, roots)
	if err != nil {
		return nil, err
	}
	return mysql.NewConnector(cfg)
}

func (e mysqlEngine) Open(ctx context.Context, u *url.URL, roots *x509.CertPool) (*sql.DB, error) {
	c, err := e.connector(u, roots)
	if err != nil {
		return nil, err
	}
	return pinged(ctx, sql.OpenDB(c))
}

func (mysqlEngine) Schema(u *url.URL) string { return strings.TrimPrefix(u.Path, "/") }

func (e mysqlEngine) Identity(u *url.URL) string {
	return fmt.Sprintf("mysql://%s/%s", hostPort(u, "3306"), e.Schema(u))
}

func (mysqlEngine) Redact(u *url.URL) string { return redacted(u) }

func (mysqlEngine) Driver(q schema.ExecQuerier) (migrate.Driver, error) { return atlasmysql.Open(q) }

// TransactionalDDL is false: every DDL statement commits implicitly.
func (mysqlEngine) Server() bool { return true }

func (mysqlEngine) TransactionalDDL() bool { return false }

// Lock takes a named lock, which lives as long as conn's session.
func (mysqlEngine) Lock(ctx context.Context, conn *sql.Conn, key string, wait time.Duration) (Unlock, error) {
	// Lock names are held to the identifier limit (IdentLimit): a hash
	// keeps any key under it.
	sum := sha256.Sum256([]byte(key))
	name := "kube_shift_" + hex.EncodeToString(sum[:16])
	var got sql.NullInt64
	secs := max(int(wait.Seconds()), 0)
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, secs).Scan(&got); err != nil {
		return nil, fmt.Errorf("taking the migration lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return nil, ErrLockBusy
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := conn.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", name)
		return err
	}, nil
}

func (mysqlEngine) Begin(context.Context, *sql.Conn) (Tx, error) {
	return nil, errors.New("mysql has no transactional DDL: statements run one by one with checkpoints")
}

func (mysqlEngine) Scratch(ctx context.Context, server *sql.DB, u *url.URL) (*url.URL, func(context.Context) error, error) {
	name := scratchName()
	if _, err := server.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		return nil, nil, fmt.Errorf("creating scratch dev database %s (the user needs CREATE, or configure a dev database): %w", name, err)
	}
	dev := *u
	dev.Path = "/" + name
	// Replay runs scripts nobody has reviewed yet: as a user of the plan's
	// own with every privilege on the scratch database and none beyond it
	// (no FILE, no SUPER, no other database). A server user that may not
	// create users is already a restricted one and replays as itself.
	password := scratchPassword()
	account := "'" + name + "'@'%'"
	ownUser := false
	if _, err := server.ExecContext(ctx, "CREATE USER "+account+" IDENTIFIED BY '"+password+"'"); err == nil {
		if _, err := server.ExecContext(ctx, "GRANT ALL PRIVILEGES ON `"+name+"`.* TO "+account); err != nil {
			_, _ = server.ExecContext(ctx, "DROP USER IF EXISTS "+account)
			_, _ = server.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
			return nil, nil, fmt.Errorf("granting the scratch dev user %s its database: %w", name, err)
		}
		ownUser = true
		dev.User = url.UserPassword(name, password)
	}
	drop := func(ctx context.Context) error {
		_, err := server.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
		if err != nil || !ownUser {
			return err
		}
		_, err = server.ExecContext(ctx, "DROP USER IF EXISTS "+account)
		return err
	}
	return &dev, drop, nil
}

// Inspecting runs inspect as it is.
func (mysqlEngine) Inspecting(_ context.Context, _ Querier, inspect func() error) error {
	return inspect()
}

func (mysqlEngine) revisions() revisionDialect {
	return revisionDialect{
		create: "CREATE TABLE IF NOT EXISTS " + RevisionTable + ` (
	id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	plan_hash varchar(128) NOT NULL,
	object varchar(512) NOT NULL,
	scripts longtext NOT NULL,
	approver varchar(512) NOT NULL,
	started_at datetime(6) NOT NULL,
	finished_at datetime(6) NULL,
	status varchar(16) NOT NULL,
	statements_done int NOT NULL,
	statements_total int NOT NULL,
	error text NOT NULL,
	KEY plan_hash (plan_hash)
)`,
		exists:      "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '" + RevisionTable + "'",
		placeholder: func(int) string { return "?" },
	}
}
