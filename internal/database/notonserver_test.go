package database_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// switchingServer passes its first connection to one server and every
// later one to another, as a list of hosts falling back, or a name that
// resolves elsewhere the next time, would.
func switchingServer(t *testing.T, first, rest string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			to := rest
			if n.Add(1) == 1 {
				to = first
			}
			go func() {
				up, err := net.Dial("tcp", to)
				if err != nil {
					_ = c.Close()
					return
				}
				go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
				_, _ = io.Copy(c, up)
				_ = c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// A target with NotOn checks every connection as it opens, not the first
// alone: a later one that reaches that server is refused.
func TestNotOnChecksEveryConnection(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	target := mustTarget(t, dbtest.NewPostgresDatabase(t))
	devServer := dbtest.DevServers()["postgres"]
	// A database of the same name, and a login, on both servers.
	name := strings.TrimPrefix(target.URL.Path, "/")
	role, pw := "kst_both_"+strings.TrimPrefix(name, "kst_"), "both-pw"
	for _, server := range []string{dbtest.PostgresURL(t), devServer} {
		admin := dbtest.OpenPostgres(t, server)
		_, err := admin.ExecContext(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, pw))
		g.Expect(err).NotTo(HaveOccurred())
		onDev := server == devServer
		t.Cleanup(func() {
			if onDev {
				_, _ = admin.ExecContext(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
			} else {
				_, _ = admin.ExecContext(context.Background(), fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'", role))
			}
			_, _ = admin.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role)
		})
		if onDev {
			_, err = admin.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, role))
			g.Expect(err).NotTo(HaveOccurred())
		}
	}
	db, err := target.Open(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = db.Close() }()
	forbidden, err := target.Engine.ServerID(ctx, db)
	g.Expect(err).NotTo(HaveOccurred())

	devHost := mustParse(t, devServer).Host
	through := mustTarget(t, (&url.URL{Scheme: "postgres", User: url.UserPassword(role, pw), Host: switchingServer(t, devHost, target.URL.Host), Path: "/" + name, RawQuery: "sslmode=disable"}).String())
	through.NotOn = forbidden
	pool, err := through.Open(ctx)
	g.Expect(err).NotTo(HaveOccurred(), "the first connection reaches the dev server")
	defer func() { _ = pool.Close() }()
	first, err := pool.Conn(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = first.Close() }()
	_, err = pool.Conn(ctx)
	g.Expect(err).To(MatchError(database.ErrForbiddenServer), "the second reaches the target's server")
}

func mustTarget(t *testing.T, raw string) *database.Target {
	t.Helper()
	target, err := database.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return target
}
