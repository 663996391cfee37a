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
	joined := path
	if !filepath.IsAbs(path) {
		// Not filepath.Join, which would clean "link/.." lexically where
		// the kernel follows link first.
		joined = absRoot + string(filepath.Separator) + path
	}
	resolved, err := resolveExisting(joined)
	if err != nil || strings.ContainsAny(resolved, "?#") || !strictlyUnder(realRoot, resolved) {
		return "", outsideRoot(root, path)
	}
	return resolved, nil
}

// resolveExisting resolves the symlinks of the longest prefix of p that
// exists and appends the rest, which must not exist and must hold no "..".
func resolveExisting(p string) (string, error) {
	elems := strings.Split(filepath.ToSlash(p), "/")
	for i := len(elems); i > 0; i-- {
		prefix := filepath.FromSlash(strings.Join(elems[:i], "/"))
		if prefix == "" {
			prefix = string(filepath.Separator)
		}
		resolved, err := filepath.EvalSymlinks(prefix)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			// A loop, a file used as a directory, no permission.
			return "", err
		}
		rest := elems[i:]
		for _, e := range rest {
			if e == ".." {
				return "", errors.New("a parent directory of a missing one")
			}
		}
		if len(rest) > 0 {
			// The first missing name must be missing indeed, not a
			// symlink whose target is.
			if _, err := os.Lstat(filepath.Join(resolved, rest[0])); !errors.Is(err, fs.ErrNotExist) {
				return "", errors.New("a dangling symlink")
			}
		}
		return filepath.Join(append([]string{resolved}, rest...)...), nil
	}
	return "", errors.New("nothing of the path exists")
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
