package database_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

const nastyPassword = `p@ss:w/o?r#d%20&x`

func TestFromConfig(t *testing.T) {
	tests := []struct {
		name         string
		cfg          database.Config
		secret       map[string][]byte
		wantEngine   string
		wantIdentity string
		wantSchema   string
		wantErr      string
	}{{
		name:         "postgres from username and password",
		cfg:          database.Config{Kind: database.KindPostgreSQL, Host: "db.example", Database: "app", SSLMode: database.SSLModeDisable},
		secret:       map[string][]byte{"username": []byte("u"), "password": []byte(nastyPassword)},
		wantEngine:   "postgres",
		wantIdentity: "postgresql://db.example:5432/app?schema=public",
		wantSchema:   "public",
	}, {
		name:         "mariadb with a port",
		cfg:          database.Config{Kind: database.KindMariaDB, Host: "m", Port: 3307, Database: "shop"},
		secret:       map[string][]byte{"username": []byte("root"), "password": []byte(nastyPassword)},
		wantEngine:   "mysql",
		wantIdentity: "mysql://m:3307/shop",
		wantSchema:   "shop",
	}, {
		name:         "a full url gives the credentials and how to connect",
		cfg:          database.Config{Kind: database.KindPostgreSQL, Host: "H", Port: 6543, Database: "real"},
		secret:       map[string][]byte{"url": []byte("postgres://u:pw@h:6543/real?sslmode=disable&search_path=app")},
		wantEngine:   "postgres",
		wantIdentity: "postgresql://h:6543/real?schema=app",
		wantSchema:   "app",
	}, {
		name:    "a full url does not win over the spec's database",
		cfg:     database.Config{Kind: database.KindPostgreSQL, Host: "h", Database: "shown"},
		secret:  map[string][]byte{"url": []byte("postgres://u:pw@h/real")},
		wantErr: `it names database "real", the spec "shown"`,
	}, {
		name:         "a target's schema binds the session, over the url's",
		cfg:          database.Config{Kind: database.KindPostgreSQL, Host: "h", Database: "real", Schema: "tenant_7"},
		secret:       map[string][]byte{"url": []byte("postgres://u:pw@h:5432/real?sslmode=disable&search_path=other")},
		wantEngine:   "postgres",
		wantIdentity: "postgresql://h:5432/real?schema=tenant_7",
		wantSchema:   "tenant_7",
	}, {
		name:         "a schema with username and password",
		cfg:          database.Config{Kind: database.KindPostgreSQL, Host: "h", Database: "real", Schema: "tenant_8", SSLMode: database.SSLModeDisable},
		secret:       map[string][]byte{"username": []byte("u"), "password": []byte(nastyPassword)},
		wantEngine:   "postgres",
		wantIdentity: "postgresql://h:5432/real?schema=tenant_8",
		wantSchema:   "tenant_8",
	}, {
		name:    "a schema is for postgres",
		cfg:     database.Config{Kind: database.KindMySQL, Host: "h", Database: "x", Schema: "tenant"},
		secret:  map[string][]byte{"username": []byte("u")},
		wantErr: "a schema is for PostgreSQL targets",
	}, {
		name:         "sqlite needs no secret",
		cfg:          database.Config{Kind: database.KindSQLite, Database: "/data/app.db"},
		wantEngine:   "sqlite",
		wantIdentity: "sqlite:///data/app.db",
		wantSchema:   "main",
	}, {
		name:    "url of another engine",
		cfg:     database.Config{Kind: database.KindMySQL, Database: "x"},
		secret:  map[string][]byte{"url": []byte("postgres://u:pw@h/x")},
		wantErr: "is a postgres URL but the database type is mysql",
	}, {
		name:    "no credentials",
		cfg:     database.Config{Kind: database.KindMySQL, Host: "h", Database: "x"},
		secret:  map[string][]byte{"password": []byte("pw")},
		wantErr: `neither "url" nor "username"`,
	}, {
		name:    "unknown type",
		cfg:     database.Config{Kind: "oracle", Database: "x"},
		wantErr: `database type "oracle" is not supported`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			target, err := database.FromConfig(tc.cfg, tc.secret)
			if tc.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(target.Engine.Name()).To(Equal(tc.wantEngine))
			g.Expect(target.Identity()).To(Equal(tc.wantIdentity))
			g.Expect(target.Schema()).To(Equal(tc.wantSchema))
			g.Expect(target.String()).NotTo(ContainSubstring(nastyPassword))
			g.Expect(target.Identity()).NotTo(ContainSubstring("pw"))
			if pw, ok := tc.secret["password"]; ok {
				// The password survives escaping intact.
				got, _ := target.URL.User.Password()
				g.Expect(got).To(Equal(string(pw)))
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw, wantEngine, wantString, wantErr string
	}{
		{raw: "sqlite://rel/app.db", wantEngine: "sqlite", wantString: "sqlite://rel/app.db"},
		{raw: "sqlite://:memory:", wantEngine: "sqlite", wantString: "sqlite://:memory:"},
		{raw: "mysql://root:secret@127.0.0.1:3306/db", wantEngine: "mysql", wantString: "mysql://root:xxxxx@127.0.0.1:3306/db"},
		{raw: "mariadb://root:secret@h/db", wantEngine: "mysql", wantString: "mariadb://root:xxxxx@h/db"},
		{raw: "postgresql://u:secret@h/db", wantEngine: "postgres", wantString: "postgresql://u:xxxxx@h/db"},
		{raw: "oracle://u:secret@h/db", wantErr: `scheme "oracle" is not supported`},
		{raw: "postgres://u:secret@/db", wantErr: "has no host"},
		{raw: "postgres://u:secret@h:port/db", wantErr: "invalid port"},
		{raw: "just-a-path", wantErr: "no scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			g := NewWithT(t)
			target, err := database.ParseURL(tc.raw)
			if tc.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
				g.Expect(err.Error()).NotTo(ContainSubstring("secret"))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(target.Engine.Name()).To(Equal(tc.wantEngine))
			g.Expect(target.String()).To(Equal(tc.wantString))
		})
	}
}

func TestOpenUnreachableHidesPassword(t *testing.T) {
	for _, raw := range []string{
		"postgres://u:topsecret@127.0.0.1:1/db?sslmode=disable",
		"mysql://u:topsecret@127.0.0.1:1/db",
		// pgx reads a password from the query too.
		"postgres://u@127.0.0.1:1/db?sslmode=disable&password=topsecret",
		"postgres://u@127.0.0.1:1/db?sslmode=disable&PassWord=topsecret",
	} {
		t.Run(raw[:5], func(t *testing.T) {
			g := NewWithT(t)
			target, err := database.ParseURL(raw)
			g.Expect(err).NotTo(HaveOccurred())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = target.Open(ctx)
			g.Expect(err).To(MatchError(database.ErrUnreachable))
			g.Expect(err.Error()).NotTo(ContainSubstring("topsecret"))
			g.Expect(target.String()).NotTo(ContainSubstring("topsecret"))
		})
	}
	// A URL refused for a parameter is named without its passwords.
	_, err := database.ParseURL("postgres://u:topsecret@127.0.0.1:1/db?sslmode=disable&sslpassword=topsecret&PassWord=topsecret")
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("want a refusal that hides the passwords, got %v", err)
	}
}

// A schema given beside a URL sets its search_path and leaves the rest of
// its query as it was: what pgx reads from it does not change.
func TestSchemaKeepsTheURLsQuery(t *testing.T) {
	g := NewWithT(t)
	raw := "postgres://u:p@db.example:5432/app?options=-c%20work_mem%3D8MB&sslmode=disable&ssl=true&Search_Path=old"
	target, err := database.FromConfig(database.Config{Kind: database.KindPostgreSQL, Schema: "my app"}, map[string][]byte{"url": []byte(raw)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(target.URL.RawQuery).To(Equal("options=-c%20work_mem%3D8MB&sslmode=disable&ssl=true&search_path=my%20app"))
	g.Expect(target.Schema()).To(Equal("my app"))
	cfg, err := pgx.ParseConfig(target.URL.String())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.RuntimeParams).To(HaveKeyWithValue("options", "-c work_mem=8MB"))
	g.Expect(cfg.RuntimeParams).To(HaveKeyWithValue("search_path", "my app"))
	g.Expect(cfg.TLSConfig).NotTo(BeNil(), "ssl=true after sslmode still asks for TLS")
}

// Server names where the driver connects: every host of a list is named
// (a host or port in the query, which pgx would prefer, is refused).
func TestServerIsWhereTheDriverConnects(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://u@db.example/app?sslmode=disable":      "db.example:5432",
		"postgres://u@DB.example:6432/app?sslmode=disable": "db.example:6432",
		"postgres://u@a:5432,b:5433/app?sslmode=disable":   "a:5432,b:5433",
		"mysql://u@db.example/app":                         "db.example:3306",
	} {
		target, err := database.ParseURL(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := target.Server(); got != want {
			t.Errorf("%s: Server() = %q, want %q", raw, got, want)
		}
	}
}

// PostgreSQL's settings know no case, and pgx passes each spelling on:
// a URL setting search_path twice could land its statements in either.
func TestURLWithTwoSearchPathsIsRefused(t *testing.T) {
	_, err := database.ParseURL("postgres://u@db.example/app?search_path=good&SEARCH_PATH=evil")
	if err == nil || !strings.Contains(err.Error(), "search_path more than once") {
		t.Fatalf("want a refusal, got %v", err)
	}
	target, err := database.ParseURL("postgres://u@db.example/app?Search_Path=other")
	if err != nil {
		t.Fatal(err)
	}
	if got := target.Schema(); got != "other" {
		t.Fatalf("Schema() = %q, want other", got)
	}
}

// A URL (a Secret's, which its namespace's authors write) says how to
// connect to the server of its authority and the database of its path:
// a parameter with which the driver would connect elsewhere, read a file
// of the operator's disk, or run statements the gate did not read as
// such, is refused, in any case.
func TestURLParametersThatReachPastTheURLAreRefused(t *testing.T) {
	for _, raw := range []string{
		"postgres://u@db.example/app?dbname=other",
		"postgres://u@db.example/app?sslmode=disable&host=other&port=7000",
		"postgres://u@db.example/app?hostaddr=10.0.0.1",
		"postgres://u@db.example/app?Port=7000",
		"postgres://u@db.example/app?service=other",
		"postgres://u@db.example/app?servicefile=/etc/passwd",
		"postgres://u@db.example/app?passfile=/var/run/secrets/token",
		"postgres://u@db.example/app?sslmode=require&sslcert=/tmp/k8s-webhook-server/serving-certs/tls.crt",
		"postgres://u@db.example/app?sslkey=/tmp/k8s-webhook-server/serving-certs/tls.key",
		"postgres://u@db.example/app?sslrootcert=/etc/ssl/certs/ca.pem",
		"postgres://u@db.example/app?sslpassword=x",
		// pgx's own key for the database, and keys pgx reads where Go
		// does not: spaces trimmed, parameters after a '#'.
		"postgres://u@db.example/app?database=other",
		"postgres://u@db.example/app?sslmode=require&%20sslkey=/x",
		"postgres://u@db.example/app?sslmode=require& sslrootcert=/dev/zero",
		"postgres://u@db.example/app?sslmode=verify-full&application_name=a#&dbname=other&sslmode=disable",
		"mysql://u@db.example/app?allowAllFiles=true",
		"mysql://u@db.example/app?ALLOWALLFILES=true",
		"mysql://u@db.example/app?multiStatements=true",
		"mysql://u@db.example/app?charset=gbk",
		"mysql://u@db.example/app?charset=utf8mb4,sjis",
		"mysql://u@db.example/app?collation=big5_chinese_ci",
		// Sent as SET <name> = <value> on every connection.
		"mysql://u@db.example/app?character_set_client=gbk",
		"mysql://u@db.example/app?foreign_key_checks=0",
		"mysql://u@db.example/app?autocommit=1,%20sql_mode%3D%27%27",
		"mysql://u@db.example/app?interpolateParams=true",
	} {
		if _, err := database.ParseURL(raw); err == nil || !strings.Contains(err.Error(), "is refused") {
			t.Errorf("%s: want a refusal, got %v", raw, err)
		}
	}
	for _, raw := range []string{
		"postgres://u@db.example/app?sslmode=verify-full&search_path=tenant&application_name=x&connect_timeout=5",
		"mysql://u@db.example/app?charset=utf8mb4&collation=utf8mb4_bin&parseTime=true&timeout=5s",
		"mysql://u@db.example/app?charset=latin1",
		"mysql://u@db.example/app?parseTime=false&readTimeout=30s&tls=false",
	} {
		if _, err := database.ParseURL(raw); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

// A connection Secret's url gives the credentials: the database (the
// file, for SQLite) is the spec's, which status shows a reviewer, and so
// is the server where the spec names one.
func TestSecretURLIsPinnedToTheSpecsDatabase(t *testing.T) {
	secret := func(raw string) map[string][]byte { return map[string][]byte{"url": []byte(raw)} }
	pg := database.Config{Kind: database.KindPostgreSQL, Host: "DB.example", Database: "app"}
	for _, tc := range []struct {
		name string
		cfg  database.Config
		url  string
		want string // "" accepts
	}{
		{"the spec's database and server", pg, "postgres://u:p@db.example:5432/app", ""},
		{"another database", pg, "postgres://u:p@db.example:5432/billing", `names database "billing"`},
		{"another server", pg, "postgres://u:p@other.example/app", "names server other.example:5432"},
		{"another port", pg, "postgres://u:p@db.example:6432/app", "names server db.example:6432"},
		{"no host in the spec: the url's", database.Config{Kind: database.KindPostgreSQL, Database: "app"}, "postgres://u:p@anywhere/app", ""},
		{"no host in the spec, another database", database.Config{Kind: database.KindMySQL, Database: "app"}, "mysql://u:p@anywhere/billing", `names database "billing"`},
		{"sqlite, the spec's file", database.Config{Kind: database.KindSQLite, Database: "shop/shop.db"}, "sqlite://./shop/shop.db", ""},
		{"sqlite, another file", database.Config{Kind: database.KindSQLite, Database: "shop/shop.db"}, "sqlite://billing/billing.db", "is not the database's"},
		{"sqlite, the file in memory", database.Config{Kind: database.KindSQLite, Database: "shop/shop.db"}, "sqlite://shop/shop.db?mode=memory", "it has parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := database.FromConfig(tc.cfg, secret(tc.url))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want it accepted, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}
