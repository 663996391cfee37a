package database_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// sqliteTree is a root for SQLite files beside a directory outside it,
// with symlinks both ways:
//
//	root/a.db, root/sub/x.db
//	root/in -> sub, root/inlink.db -> sub/x.db        (stay inside)
//	root/in2 -> in, root/slashlink -> a.db/             (a file as a directory)
//	root/newlink.db -> new.db, root/chain.db -> newlink.db (dangling)
//	root/out -> ../outside, root/outfile.db -> ../outside/secret.db,
//	root/dangling.db -> ../outside/new.db              (lead outside)
//	root/loop1 <-> root/loop2                          (a loop)
//	rootlink -> root
type sqliteTree struct {
	base, root, realRoot, rootLink, outside string
}

func newSQLiteTree(tb testing.TB, dir string) sqliteTree {
	tb.Helper()
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tr := sqliteTree{
		base:     base,
		root:     filepath.Join(base, "root"),
		rootLink: filepath.Join(base, "rootlink"),
		outside:  filepath.Join(base, "outside"),
	}
	tr.realRoot = tr.root
	for _, d := range []string{tr.root, filepath.Join(tr.root, "sub"), tr.outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(tr.root, "a.db"), filepath.Join(tr.root, "sub", "x.db"), filepath.Join(tr.outside, "secret.db")} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(tr.root, "in"):          "sub",
		filepath.Join(tr.root, "inlink.db"):   filepath.Join("sub", "x.db"),
		filepath.Join(tr.root, "out"):         tr.outside,
		filepath.Join(tr.root, "outfile.db"):  filepath.Join("..", "outside", "secret.db"),
		filepath.Join(tr.root, "dangling.db"): filepath.Join(tr.outside, "new.db"),
		filepath.Join(tr.root, "newlink.db"):  "new.db",
		filepath.Join(tr.root, "chain.db"):    "newlink.db",
		filepath.Join(tr.root, "in2"):         "in",
		filepath.Join(tr.root, "slashlink"):   "a.db/",
		filepath.Join(tr.root, "loop1"):       "loop2",
		filepath.Join(tr.root, "loop2"):       "loop1",
		tr.rootLink:                           "root",
	}
	for link, to := range links {
		if err := os.Symlink(to, link); err != nil {
			tb.Fatal(err)
		}
	}
	return tr
}

func TestConfineSQLitePath(t *testing.T) {
	tr := newSQLiteTree(t, t.TempDir())
	in := func(rel string) string { return filepath.Join(tr.realRoot, rel) }
	tests := []struct {
		name string
		root string // tr.root unless set
		path string
		want string // empty: refused
	}{
		{name: "a file in the root", path: "a.db", want: in("a.db")},
		{name: "a nested file", path: "sub/x.db", want: in("sub/x.db")},
		{name: "a file not created yet", path: "new.db", want: in("new.db")},
		{name: "a nested file not created yet", path: "sub/new.db", want: in("sub/new.db")},
		{name: "an absolute path inside", path: in("sub/x.db"), want: in("sub/x.db")},
		{name: "a symlinked directory inside", path: "in/x.db", want: in("sub/x.db")},
		{name: "a symlinked file inside", path: "inlink.db", want: in("sub/x.db")},
		{name: "a .. that stays inside", path: "sub/../a.db", want: in("a.db")},
		{name: "a root that is a symlink", root: tr.rootLink, path: "a.db", want: in("a.db")},
		{name: "an absolute path through a symlinked root", root: tr.rootLink, path: filepath.Join(tr.rootLink, "sub", "new.db"), want: in("sub/new.db")},
		{name: "a relative root", root: relTo(t, tr.root), path: "a.db", want: in("a.db")},
		{name: "a .. after a symlinked directory inside", path: "in/../a.db", want: in("a.db")},
		{name: "a new file through a chain of symlinked directories", path: "in2/new.db", want: in("sub/new.db")},
		{name: "a .. after a symlinked directory leading out, back inside", path: "out/../root/a.db", want: in("a.db")},

		{name: "..", path: "../x"},
		{name: "an absolute path outside", path: "/etc/passwd"},
		{name: ".. past a missing directory", path: "a/../../x"},
		{name: ".. past an existing directory", path: "sub/../../outside/secret.db"},
		{name: ".. after a missing directory, staying inside", path: "missing/../a.db"},
		{name: "a symlinked directory leading out", path: "out/secret.db"},
		{name: "a new file in a symlinked directory leading out", path: "out/new.db"},
		{name: "a symlinked file leading out", path: "outfile.db"},
		{name: "a dangling symlink leading out", path: "dangling.db"},
		{name: "a dangling symlink leading inside", path: "newlink.db"},
		{name: "a chain of symlinks ending at a missing file", path: "chain.db"},
		{name: "a .. after a symlinked directory leading out", path: "out/../outside/secret.db"},
		{name: "a .. after a file", path: "a.db/../a.db"},
		{name: "a file with a trailing slash", path: "a.db/"},
		{name: "a file followed by .", path: "a.db/."},
		{name: "a nested file with trailing slashes", path: "sub/x.db//"},
		{name: "a symlinked file with a trailing slash", path: "inlink.db/"},
		{name: "a symlink to a file with a trailing slash", path: "slashlink"},
		{name: "a symlink loop", path: "loop1"},
		{name: "a file under a symlink loop", path: "loop1/x.db"},
		{name: "a file used as a directory", path: "a.db/x.db"},
		{name: "the root itself", path: "."},
		{name: "the root itself, absolute", path: tr.root},
		{name: "an empty path", path: ""},
		{name: "a NUL", path: "a.db\x00/../../outside/secret.db"},
		{name: "a file: URI", path: "file:a.db"},
		{name: "an absolute file: URI", path: "file:///etc/passwd"},
		{name: "a vfs parameter", path: "a.db?vfs=unix-none"},
		{name: "a mode parameter", path: "a.db?mode=ro"},
		{name: "an immutable parameter", path: "a.db?immutable=1"},
		{name: "a fragment", path: "a.db#x"},
		{name: "a symlinked root, a symlink leading out", root: tr.rootLink, path: "out/secret.db"},
		{name: "an empty root", root: "-", path: "a.db"},
		{name: "a root that does not exist", root: filepath.Join(tr.base, "nowhere"), path: "a.db"},
		{name: "a root holding a NUL", root: tr.root + "\x00", path: "a.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			root := tc.root
			switch root {
			case "":
				root = tr.root
			case "-":
				root = ""
			}
			got, err := database.ConfineSQLitePath(root, tc.path)
			if tc.want != "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got).To(Equal(filepath.Clean(tc.want)))
				return
			}
			g.Expect(err).To(MatchError(database.ErrSQLitePathOutsideRoot))
			g.Expect(got).To(BeEmpty())
			g.Expect(err.Error()).To(ContainSubstring(strings.ReplaceAll(tc.path, "\x00", `\x00`)))
			for _, detail := range []string{"no such file", "not a directory", "too many links", "permission", tr.outside} {
				g.Expect(err.Error()).NotTo(ContainSubstring(detail))
			}
		})
	}
}

func relTo(t *testing.T, dir string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

func TestFromConfigConfinesSQLite(t *testing.T) {
	tr := newSQLiteTree(t, t.TempDir())
	ctx := context.Background()

	t.Run("a relative path opens under the root, not the working directory", func(t *testing.T) {
		g := NewWithT(t)
		target, err := database.FromConfig(database.Config{Kind: database.KindSQLite, Database: "in/app.db", SQLiteRoot: tr.root}, nil)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(target.URL.Path).To(Equal(filepath.Join(tr.realRoot, "sub", "app.db")))
		db, err := target.Open(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(db.PingContext(ctx)).To(Succeed())
		g.Expect(db.Close()).To(Succeed())
		g.Expect(filepath.Join(tr.root, "sub", "app.db")).To(BeARegularFile())
	})

	t.Run("a path outside is refused before anything is opened", func(t *testing.T) {
		for _, cfg := range []struct {
			database string
			secret   map[string][]byte
		}{
			{database: "out/new.db"},
			{database: "../outside/new.db"},
			{database: filepath.Join(tr.outside, "new.db")},
			{database: "a.db?vfs=memdb"},
			{secret: map[string][]byte{"url": []byte("sqlite://" + filepath.Join(tr.outside, "new.db"))}},
			{secret: map[string][]byte{"url": []byte("sqlite://out/new.db?mode=rwc")}},
		} {
			g := NewWithT(t)
			_, err := database.FromConfig(database.Config{Kind: database.KindSQLite, Database: cfg.database, SQLiteRoot: tr.root}, cfg.secret)
			g.Expect(err).To(MatchError(database.ErrSQLitePathOutsideRoot), "%+v", cfg)
		}
		g := NewWithT(t)
		_, err := os.Lstat(filepath.Join(tr.outside, "new.db"))
		g.Expect(errors.Is(err, fs.ErrNotExist)).To(BeTrue(), "nothing was created outside the root")
	})

	t.Run("a path that leads out by the time it is opened is refused at open", func(t *testing.T) {
		g := NewWithT(t)
		dir := filepath.Join(tr.root, "swapped")
		g.Expect(os.Mkdir(dir, 0o755)).To(Succeed())
		target, err := database.FromConfig(database.Config{Kind: database.KindSQLite, Database: "swapped/app.db", SQLiteRoot: tr.root}, nil)
		g.Expect(err).NotTo(HaveOccurred())

		g.Expect(os.Remove(dir)).To(Succeed())
		g.Expect(os.Symlink(tr.outside, dir)).To(Succeed())
		_, err = target.Open(ctx)
		g.Expect(err).To(MatchError(database.ErrSQLitePathOutsideRoot))
		g.Expect(err).NotTo(MatchError(database.ErrUnreachable), "no retry mends it")
		g.Expect(filepath.Join(tr.outside, "app.db")).NotTo(BeAnExistingFile())
	})

	t.Run("in memory reaches no file and stays allowed", func(t *testing.T) {
		g := NewWithT(t)
		target, err := database.FromConfig(database.Config{Kind: database.KindSQLite, Database: ":memory:", SQLiteRoot: tr.root}, nil)
		g.Expect(err).NotTo(HaveOccurred())
		db, err := target.Open(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(db.Close()).To(Succeed())
	})

	t.Run("no root confines nothing", func(t *testing.T) {
		g := NewWithT(t)
		path := filepath.Join(tr.outside, "unconfined.db")
		target, err := database.FromConfig(database.Config{Kind: database.KindSQLite, Database: path}, nil)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(target.URL.Path).To(Equal(path))
		db, err := target.Open(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(db.Close()).To(Succeed())
	})
}

// FuzzConfineSQLitePath checks that no path ConfineSQLitePath accepts
// resolves, symlinks followed, outside the root: neither the path it
// returns nor, where that does not exist yet, the longest part of it that
// does.
func FuzzConfineSQLitePath(f *testing.F) {
	tr := newSQLiteTree(f, f.TempDir())
	for _, seed := range []string{
		"a.db", "sub/x.db", "new.db", "in/x.db", "inlink.db", "sub/../a.db",
		"../x", "/etc/passwd", "a/../../x", "sub/../../outside/secret.db",
		"out/secret.db", "out/new.db", "outfile.db", "dangling.db", "loop1/x.db",
		"a.db/x", ".", "", "file:a.db", "a.db?vfs=memdb", "in/../out/x.db",
		"in/../../root/a.db", "./in/./x.db", "sub//x.db", "in/../inlink.db",
		filepath.Join(tr.root, "a.db"), filepath.Join(tr.rootLink, "a.db"), filepath.Join(tr.outside, "x.db"),
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, path string, viaLink bool) {
		root := tr.root
		if viaLink {
			root = tr.rootLink
		}
		got, err := database.ConfineSQLitePath(root, path)
		if err != nil {
			if !errors.Is(err, database.ErrSQLitePathOutsideRoot) {
				t.Fatalf("ConfineSQLitePath(%q): an error other than ErrSQLitePathOutsideRoot: %v", path, err)
			}
			return
		}
		if !filepath.IsAbs(got) || filepath.Clean(got) != got || strings.ContainsAny(got, "?#\x00") {
			t.Fatalf("ConfineSQLitePath(%q) = %q: not a clean absolute path SQLite opens as a file", path, got)
		}
		existing := got
		for {
			resolved, err := filepath.EvalSymlinks(existing)
			if err == nil {
				if !under(tr.realRoot, resolved) || (existing == got && resolved == tr.realRoot) {
					t.Fatalf("ConfineSQLitePath(%q) = %q, which resolves to %q, outside %q", path, got, resolved, tr.realRoot)
				}
				break
			}
			if _, lerr := os.Lstat(existing); lerr == nil {
				t.Fatalf("ConfineSQLitePath(%q) = %q: %q exists but does not resolve: %v", path, got, existing, err)
			}
			existing = filepath.Dir(existing)
		}
	})
}

// under reports whether p is root or below it.
func under(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
