package database_test

import (
	"context"
	"database/sql"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// tlsServer is a test server that speaks TLS with a certificate for
// 127.0.0.1 (and no host name) signed by ca.
type tlsServer struct {
	kind     database.Kind
	url      string
	ca       []byte
	usesTLS  string // a query that returns a non-empty value only over TLS
	tlsValue func(string) bool
}

// tlsServers are the test servers by engine, each read in its own subtest
// (one missing skips only its own).
func tlsServers() map[string]func(*testing.T) tlsServer {
	return map[string]func(*testing.T) tlsServer{
		"postgresql": func(t *testing.T) tlsServer {
			return tlsServer{
				kind: database.KindPostgreSQL, url: dbtest.PostgresURL(t), ca: dbtest.PostgresCA(t),
				usesTLS:  "SELECT ssl::text FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid()",
				tlsValue: func(v string) bool { return v == "true" },
			}
		},
		"mariadb": func(t *testing.T) tlsServer {
			return tlsServer{
				kind: database.KindMariaDB, url: dbtest.MySQLURL(t), ca: dbtest.MySQLCA(t),
				usesTLS:  "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'",
				tlsValue: func(v string) bool { return strings.HasPrefix(v, "TLS") },
			}
		},
	}
}

// TestVerifiedTLS connects to the real test servers with a CA given as
// a target's caSecret gives it: verify-full needs the CA and the server's
// name, verify-ca the CA only; with a connection limit as without.
func TestVerifiedTLS(t *testing.T) {
	otherCA := dbtest.UntrustedCA(t)
	tests := []struct {
		name string
		mode database.SSLMode
		// host is how the server is dialled; its certificate names
		// 127.0.0.1 only.
		host  string
		other bool // the CA is another than the one that signed the server's
		// want is the class of the failure, "" when it connects.
		want database.ConnClass
	}{
		{name: "verify-full with the CA", mode: database.SSLModeVerifyFull, host: "127.0.0.1"},
		{name: "verify-full with another CA", mode: database.SSLModeVerifyFull, host: "127.0.0.1", other: true, want: database.ConnClassTLS},
		{name: "verify-full by a name the certificate lacks", mode: database.SSLModeVerifyFull, host: "localhost", want: database.ConnClassTLS},
		{name: "verify-ca by a name the certificate lacks", mode: database.SSLModeVerifyCA, host: "localhost"},
		{name: "verify-ca with another CA", mode: database.SSLModeVerifyCA, host: "127.0.0.1", other: true, want: database.ConnClassTLS},
	}
	for engine, server := range tlsServers() {
		t.Run(engine, func(t *testing.T) {
			srv := server(t)
			base := parse(t, srv.url)
			password, _ := base.User.Password()
			port, err := strconv.Atoi(base.Port())
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range tests {
				for _, limited := range []bool{false, true} {
					t.Run(tc.name+map[bool]string{false: "", true: " under a connection limit"}[limited], func(t *testing.T) {
						g := NewWithT(t)
						ca := srv.ca
						if tc.other {
							ca = otherCA
						}
						target, err := database.FromConfig(database.Config{
							Kind: srv.kind, Host: tc.host, Port: int32(port), Database: strings.TrimPrefix(base.Path, "/"),
							SSLMode: tc.mode, CA: ca,
						}, map[string][]byte{"username": []byte(base.User.Username()), "password": []byte(password)})
						g.Expect(err).NotTo(HaveOccurred())
						if limited {
							target.Limit = database.NewConnLimit(2)
						}
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						db, err := target.Open(ctx)
						if tc.want != "" {
							g.Expect(err).To(MatchError(database.ErrUnreachable))
							g.Expect(database.ConnectionClass(err)).To(Equal(tc.want), "classing %v", err)
							return
						}
						g.Expect(err).NotTo(HaveOccurred())
						defer db.Close()
						g.Expect(queryString(ctx, db, srv.usesTLS)).To(Satisfy(srv.tlsValue), "the session is encrypted")
					})
				}
			}
		})
	}
}

// TestCAThatCannotBeUsed: a CA that is no certificate, or one given with
// an sslmode that verifies nothing, is refused before any connection, and
// the refusal quotes nothing of what was given.
func TestCAThatCannotBeUsed(t *testing.T) {
	ca := dbtest.UntrustedCA(t)
	secret := map[string][]byte{"username": []byte("kube"), "password": []byte("topsecret")}
	tests := []struct {
		name   string
		cfg    database.Config
		secret map[string][]byte
		want   error
	}{
		{name: "not PEM", cfg: database.Config{Kind: database.KindPostgreSQL, Host: "db", Database: "app", SSLMode: database.SSLModeVerifyFull, CA: []byte("not-a-certificate-secret-text")}, want: database.ErrCAInvalid},
		{name: "a PEM key, no certificate", cfg: database.Config{Kind: database.KindMySQL, Host: "db", Database: "app", SSLMode: database.SSLModeVerifyCA,
			CA: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not-a-certificate-secret-text")})}, want: database.ErrCAInvalid},
		{name: "postgresql require", cfg: database.Config{Kind: database.KindPostgreSQL, Host: "db", Database: "app", SSLMode: database.SSLModeRequire, CA: ca}, want: database.ErrCAUnused},
		{name: "postgresql default sslMode", cfg: database.Config{Kind: database.KindPostgreSQL, Host: "db", Database: "app", CA: ca}, want: database.ErrCAUnused},
		{name: "mysql disable", cfg: database.Config{Kind: database.KindMySQL, Host: "db", Database: "app", SSLMode: database.SSLModeDisable, CA: ca}, want: database.ErrCAUnused},
		{name: "a url without verification", cfg: database.Config{Kind: database.KindPostgreSQL, Host: "db", Database: "app", SSLMode: database.SSLModeVerifyFull, CA: ca},
			secret: map[string][]byte{"url": []byte("postgres://kube:topsecret@db:5432/app?sslmode=disable")}, want: database.ErrCAUnused},
		{name: "sqlite", cfg: database.Config{Kind: database.KindSQLite, Database: ":memory:", SSLMode: database.SSLModeVerifyFull, CA: ca}, want: database.ErrCAUnused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			data := secret
			if tc.secret != nil {
				data = tc.secret
			}
			_, err := database.FromConfig(tc.cfg, data)
			g.Expect(err).To(MatchError(tc.want))
			g.Expect(err.Error()).NotTo(ContainSubstring("not-a-certificate-secret-text"))
			g.Expect(err.Error()).NotTo(ContainSubstring("topsecret"))
		})
	}

	t.Run("a url that verifies", func(t *testing.T) {
		for _, tc := range []struct {
			kind database.Kind
			url  string
		}{
			{database.KindPostgreSQL, "postgres://kube:topsecret@db:5432/app?sslmode=verify-ca"},
			{database.KindMySQL, "mysql://kube:topsecret@db:3306/app?tls=true"},
			{database.KindMySQL, "mysql://kube:topsecret@db:3306/app?tls=verify-ca"},
		} {
			g := NewWithT(t)
			target, err := database.FromConfig(database.Config{Kind: tc.kind, CA: ca}, map[string][]byte{"url": []byte(tc.url)})
			g.Expect(err).NotTo(HaveOccurred(), tc.url)
			g.Expect(target.RootCAs).NotTo(BeNil(), tc.url)
		}
	})
}

// TestSSLModeOfBuiltURLs: each sslMode reads back from the URL built for
// it, so verify-ca on MySQL is not the driver's true (which checks the
// host name too).
func TestSSLModeOfBuiltURLs(t *testing.T) {
	modes := []database.SSLMode{database.SSLModeDisable, database.SSLModePrefer, database.SSLModeRequire, database.SSLModeVerifyCA, database.SSLModeVerifyFull}
	for _, kind := range []database.Kind{database.KindPostgreSQL, database.KindMySQL} {
		for _, mode := range modes {
			t.Run(string(kind)+" "+string(mode), func(t *testing.T) {
				g := NewWithT(t)
				target, err := database.FromConfig(database.Config{Kind: kind, Host: "db", Database: "app", SSLMode: mode}, map[string][]byte{"username": []byte("kube")})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(target.Engine.SSLMode(target.URL)).To(Equal(mode))
			})
		}
	}
	g := NewWithT(t)
	target, err := database.ParseURL("mysql://kube@db/app?tls=skip-verify")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(target.Engine.SSLMode(target.URL)).To(Equal(database.SSLModeRequire))
}

func queryString(ctx context.Context, db *sql.DB, query string) string {
	var v sql.NullString
	if err := db.QueryRowContext(ctx, query).Scan(&v); err != nil {
		return "error: " + err.Error()
	}
	return v.String
}
