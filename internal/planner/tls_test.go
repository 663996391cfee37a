package planner_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// TestDevDatabaseVerifiedWithTheTargetsCA: a target reached with a CA (as
// a DatabaseTarget's caSecret gives it) plans on its planning.devDatabase
// with the same CA, so a dev database URL asking for verify-full connects
// to a server the system does not trust; without the target's CA it does
// not.
func TestDevDatabaseVerifiedWithTheTargetsCA(t *testing.T) {
	dev := dbtest.DevServers()["postgres"]
	if dev == "" {
		t.Skip(dbtest.DevPostgresEnv + " is not set")
	}
	ca := dbtest.PostgresCA(t)
	g := NewWithT(t)
	ctx := context.Background()

	base, err := url.Parse(dbtest.NewPostgresDatabase(t))
	g.Expect(err).NotTo(HaveOccurred())
	port, err := strconv.Atoi(base.Port())
	g.Expect(err).NotTo(HaveOccurred())
	password, _ := base.User.Password()
	target, err := database.FromConfig(database.Config{
		Kind: database.KindPostgreSQL, Host: base.Hostname(), Port: int32(port), Database: strings.TrimPrefix(base.Path, "/"),
		SSLMode: database.SSLModeVerifyFull, CA: ca,
	}, map[string][]byte{"username": []byte(base.User.Username()), "password": []byte(password)})
	g.Expect(err).NotTo(HaveOccurred())

	devURL := emptyDevDatabase(t, dev)
	q := devURL.Query()
	q.Set("sslmode", "verify-full")
	devURL.RawQuery = q.Encode()
	in := planner.Input{Scripts: scripts("CREATE TABLE t (id int);")}

	plan, err := (&planner.Planner{DevURL: devURL.String()}).Plan(ctx, target, in)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(plan.Changes).To(ContainElement("create table t"))

	untrusted := *target
	untrusted.RootCAs = nil
	_, err = (&planner.Planner{DevURL: devURL.String()}).Plan(ctx, &untrusted, in)
	g.Expect(database.ConnectionClass(err)).To(Equal(database.ConnClassTLS), "planning without the CA: %v", err)
}

// emptyDevDatabase creates an empty database on the dev server, dropped
// when the test ends, and returns its URL.
func emptyDevDatabase(t *testing.T, server string) *url.URL {
	t.Helper()
	g := NewWithT(t)
	admin, err := database.ParseURL(server)
	g.Expect(err).NotTo(HaveOccurred())
	db, err := admin.Open(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = db.Close() })
	name := randomName("kst_dev_")
	_, err = db.ExecContext(context.Background(), "CREATE DATABASE "+name)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _, _ = db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u := *admin.URL
	u.Path = "/" + name
	return &u
}
