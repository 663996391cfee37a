package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestPostgresDatabase(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("use", func(t *testing.T) {
		dbURL := NewPostgresDatabase(t)
		name = dbName(t, dbURL)
		db := OpenPostgres(t, dbURL)
		roundTrip(t, db, "SELECT current_database()", name,
			`CREATE TABLE widget (id integer PRIMARY KEY, label text NOT NULL)`,
			`INSERT INTO widget (id, label) VALUES ($1, $2)`,
			`SELECT label FROM widget WHERE id = $1`)
		// Left open on purpose: the cleanup must end this session to drop.
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn
	})
	// The subtest's cleanup has dropped the database.
	db := OpenPostgres(t, PostgresURL(t))
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after the test", name)
	}
}

func TestMySQLDatabase(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("use", func(t *testing.T) {
		dbURL := NewMySQLDatabase(t)
		name = dbName(t, dbURL)
		db := OpenMySQL(t, dbURL)
		roundTrip(t, db, "SELECT DATABASE()", name,
			"CREATE TABLE widget (id INT PRIMARY KEY, label VARCHAR(64) NOT NULL)",
			"INSERT INTO widget (id, label) VALUES (?, ?)",
			"SELECT label FROM widget WHERE id = ?")
		// An open transaction holds a metadata lock on the table; the
		// cleanup must end this connection or DROP DATABASE would wait.
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var label string
		if err := tx.QueryRow("SELECT label FROM widget WHERE id = 1 FOR UPDATE").Scan(&label); err != nil {
			t.Fatal(err)
		}
		// multiStatements and parseTime are on.
		var now time.Time
		if err := tx.QueryRow("SELECT NOW()").Scan(&now); err != nil {
			t.Fatalf("parseTime: %v", err)
		}
	})
	db := OpenMySQL(t, MySQLURL(t))
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after the test", name)
	}
}

// TestDatabasesAreDistinct checks that two databases from one server do not
// share tables.
func TestDatabasesAreDistinct(t *testing.T) {
	t.Parallel()
	a, b := NewPostgresDatabase(t), NewPostgresDatabase(t)
	if a == b {
		t.Fatalf("two calls returned the same database %s", a)
	}
	if _, err := OpenPostgres(t, a).Exec(`CREATE TABLE only_in_a (id int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPostgres(t, b).Exec(`SELECT 1 FROM only_in_a`); err == nil {
		t.Errorf("table created in %s is visible in %s", dbName(t, a), dbName(t, b))
	}
}

// roundTrip checks the connection is on database want, then creates a
// table, inserts a row and reads it back.
func roundTrip(t *testing.T, db *sql.DB, current, want, create, insert, query string) {
	t.Helper()
	var got string
	if err := db.QueryRow(current).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("connected to database %q, want %q", got, want)
	}
	if _, err := db.Exec(create); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := db.Exec(insert, 1, "sprocket"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var label string
	if err := db.QueryRow(query, 1).Scan(&label); err != nil {
		t.Fatalf("select: %v", err)
	}
	if label != "sprocket" {
		t.Errorf("read back %q, want %q", label, "sprocket")
	}
}

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(name, dbPrefix) || len(name) != len(dbPrefix)+16 {
		t.Fatalf("database name %q, want %s and 16 hex digits", name, dbPrefix)
	}
	return name
}

func TestMySQLDSN(t *testing.T) {
	tricky := "p@ss:w/rd?#%&()=' \""
	u := url.URL{Scheme: "mysql", User: url.UserPassword("us er", tricky), Host: "db.example:3307", Path: "/app"}
	for _, tc := range []struct {
		name, url string
		want      string // "" when only the round trip is checked
		user      string
		pass      string
		addr      string
		dbName    string
		wantErr   bool
	}{
		{
			name: "atlas form",
			url:  "mysql://root:secret@127.0.0.1:33061/kube_shift_test",
			want: "root:secret@tcp(127.0.0.1:33061)/kube_shift_test?multiStatements=true&parseTime=true",
			user: "root", pass: "secret", addr: "127.0.0.1:33061", dbName: "kube_shift_test",
		},
		{
			name: "default port, no password",
			url:  "mysql://root@localhost/app",
			user: "root", addr: "localhost:3306", dbName: "app",
		},
		{
			name: "special characters",
			url:  u.String(),
			user: "us er", pass: tricky, addr: "db.example:3307", dbName: "app",
		},
		{
			name: "ipv6 and mariadb scheme",
			url:  "mariadb://root:pw@[::1]:3306/",
			user: "root", pass: "pw", addr: "[::1]:3306",
		},
		{
			name: "parameters pass through and override",
			url:  "mysql://root:pw@h:1/d?parseTime=false&charset=utf8mb4",
			user: "root", pass: "pw", addr: "h:1", dbName: "d",
		},
		{name: "wrong scheme", url: "postgres://root:pw@h:1/d", wantErr: true},
		{name: "no host", url: "mysql:///d", wantErr: true},
		{name: "not a URL", url: "root:pw@tcp(h:1)/d", wantErr: true},
		{name: "bad parameter", url: "mysql://root:pw@h:1/d?parseTime=maybe", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn, err := MySQLDSN(tc.url)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("MySQLDSN(%q) = %q, want an error", tc.url, dsn)
				}
				if strings.Contains(err.Error(), "pw@") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("MySQLDSN(%q): %v", tc.url, err)
			}
			if tc.want != "" && dsn != tc.want {
				t.Errorf("MySQLDSN(%q) = %q, want %q", tc.url, dsn, tc.want)
			}
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatalf("driver cannot parse %q: %v", dsn, err)
			}
			if cfg.User != tc.user || cfg.Passwd != tc.pass || cfg.Net != "tcp" || cfg.Addr != tc.addr || cfg.DBName != tc.dbName {
				t.Errorf("parsed %q as user %q pass %q net %q addr %q db %q, want %q %q tcp %q %q",
					dsn, cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName, tc.user, tc.pass, tc.addr, tc.dbName)
			}
			if !cfg.MultiStatements {
				t.Errorf("%q: multiStatements off", dsn)
			}
			wantParseTime := !strings.Contains(tc.url, "parseTime=false")
			if cfg.ParseTime != wantParseTime {
				t.Errorf("%q: parseTime %v, want %v", dsn, cfg.ParseTime, wantParseTime)
			}
		})
	}
}

func TestServerURLMissing(t *testing.T) {
	t.Setenv(PostgresURLEnv, "")
	t.Setenv("CI", "true")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		PostgresURL(ft)
	}()
	if !ft.fatal || !strings.Contains(ft.msg, "hack/db-up.sh") {
		t.Errorf("with CI=true and no server: fatal %v, message %q; want a failure naming hack/db-up.sh", ft.fatal, ft.msg)
	}

	t.Setenv("CI", "")
	ft = &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		PostgresURL(ft)
	}()
	if ft.fatal || !ft.skipped {
		t.Errorf("without CI and no server: fatal %v, skipped %v; want a skip", ft.fatal, ft.skipped)
	}
}

// fakeTB records Fatalf and Skipf instead of ending the test; both panic to
// stop the caller the way runtime.Goexit would.
type fakeTB struct {
	testing.TB
	fatal, skipped bool
	msg            string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = true
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = true
	f.msg = fmt.Sprintf(format, args...)
	panic("skip")
}
