package database

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrSQLitePathOutsideRoot: a SQLite database path does not resolve, with
// symlinks followed, to a file under the directory SQLite is confined to.
var ErrSQLitePathOutsideRoot = errors.New("SQLite path is outside the SQLite root")

// outsideRoot is the one error a refused path gets: it names the path as
// given and the root, and nothing the filesystem said, so a refusal does
// not tell a namespace which files exist outside the root.
func outsideRoot(root, path string) error {
	return fmt.Errorf("%w: %q is not a file under %q", ErrSQLitePathOutsideRoot, path, root)
}

// ConfineSQLitePath returns the absolute path to open for the SQLite
// database path, or ErrSQLitePathOutsideRoot unless path, with every
// symlink followed (root's own included), names a file strictly under
// root. A relative path is taken relative to root. The file itself need
// not exist yet: the longest prefix of the path that exists is resolved,
// and the rest must neither exist (a dangling symlink would create its
// file wherever it points) nor hold "..".
//
// The path returned is the resolved one, so opening it follows no symlink
// the check did not see. It never starts with "file:" and never holds
// "?", which the SQLite driver would read as a URI or as parameters (a
// vfs, a mode) that change what it opens.
//
// The check and the open are two steps: whoever can change the root's
// symlinks between them can still redirect the open. The root is the
// platform's, not a namespace's, to write.
func ConfineSQLitePath(root, path string) (string, error) {
	if root == "" || path == "" || strings.ContainsRune(root, 0) || strings.ContainsRune(path, 0) ||
		strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#") {
		return "", outsideRoot(root, path)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", outsideRoot(root, path)
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return "", outsideRoot(root, path)
	}
	// A relative path is walked from the root as resolved, which is
	// where the kernel's walk of root/path stands after root.
	from := realRoot
	if filepath.IsAbs(path) {
		from = string(filepath.Separator)
	}
	resolved, err := resolveExisting(from, path)
	if err != nil || strings.ContainsAny(resolved, "?#") || !strictlyUnder(realRoot, resolved) {
		return "", outsideRoot(root, path)
	}
	return resolved, nil
}

// maxSymlinks is how many symlinks resolveExisting follows in one path,
// as Linux does: more is a loop.
const maxSymlinks = 40

// resolveExisting walks p from dir (absolute, with no symlink in it) as
// the kernel does, following every symlink, until a name does not exist;
// it returns where the walk ends, with the names not walked appended.
// Those must hold no "..", and the first of them must be a name of p
// itself: a symlink whose target does not exist (dangling) would have its
// file created wherever it points. One Lstat a name, and one Readlink a
// symlink: it runs on every admission of a SQLite migration.
func resolveExisting(dir, p string) (string, error) {
	rest := strings.Split(filepath.ToSlash(p), "/")
	// fromLinks are how many of rest's first names come from symlinks'
	// targets rather than from p.
	fromLinks, links := 0, 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		fromLink := fromLinks > 0
		if fromLink {
			fromLinks--
		}
		switch name {
		case "", ".":
			continue
		case "..":
			dir = filepath.Dir(dir)
			continue
		}
		next := filepath.Join(dir, name)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if fromLink {
				return "", errors.New("a dangling symlink")
			}
			if slices.Contains(rest, "..") {
				return "", errors.New("a parent directory of a missing one")
			}
			return filepath.Join(append([]string{next}, rest...)...), nil
		case err != nil:
			// A file used as a directory, no permission.
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return "", errors.New("too many symlinks")
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			if filepath.IsAbs(target) {
				dir = string(filepath.Separator)
			}
			more := strings.Split(filepath.ToSlash(target), "/")
			rest = append(more, rest...)
			fromLinks += len(more)
		case len(rest) > 0 && !fi.IsDir():
			// Even "a.db/" or "a.db/.": the kernel opens neither.
			return "", errors.New("a file used as a directory")
		default:
			dir = next
		}
	}
	return dir, nil
}

// strictlyUnder reports whether p (clean, absolute) is below root.
func strictlyUnder(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != "." && rel != ".." && !filepath.IsAbs(rel) &&
		!strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ConfineSQLite confines a SQLite target to root: its file path must
// resolve under root (see ConfineSQLitePath), and becomes that resolved
// path; its engine checks the path again right before it opens the file,
// since the filesystem may have changed since. An in-memory database
// reaches no file and is left as it is, as is a target of any other
// engine. An empty root confines nothing.
func (t *Target) ConfineSQLite(root string) error {
	if root == "" || t.Engine.Name() != sqliteName || inMemory(t.URL) {
		return nil
	}
	path, err := ConfineSQLitePath(root, t.URL.Path)
	if err != nil {
		return err
	}
	u := *t.URL
	u.Path = path
	t.URL = &u
	t.Engine = rootedSQLite{root: root}
	return nil
}

// rootedSQLite is the SQLite engine of a confined target: it opens a file
// only after checking, once more, that it resolves under root.
type rootedSQLite struct {
	sqliteEngine
	root string
}

func (e rootedSQLite) Open(ctx context.Context, u *url.URL, roots *x509.CertPool) (*sql.DB, error) {
	if inMemory(u) {
		return e.sqliteEngine.Open(ctx, u, roots)
	}
	path, err := ConfineSQLitePath(e.root, u.Path)
	if err != nil {
		return nil, err
	}
	confined := *u
	confined.Path = path
	return e.sqliteEngine.Open(ctx, &confined, roots)
}

// confined is t confined to root (see Target.ConfineSQLite).
func confined(t *Target, root string) (*Target, error) {
	if err := t.ConfineSQLite(root); err != nil {
		return nil, err
	}
	return t, nil
}
