package bluegreen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

const (
	// greenInfix joins blue's name and the suffix, so that a green is
	// recognisable at a glance in a list of databases.
	greenInfix = "_green_"
	// suffixLimit bounds the suffix so that blue's name keeps most of the
	// room; a longer suffix is shortened with a hash of it.
	suffixLimit = 16
	// tagLen is the number of hex digits of a hash standing in for the
	// part of a name that had to be cut.
	tagLen = 8
)

// nameLimit is the longest name GreenName returns, in bytes: the smallest
// of the server engines' identifier limits (PostgreSQL's), so a name fits
// whichever engine it is used on.
var nameLimit = database.PortableIdentLimit()

// GreenName names blue's green twin: <blue>_green_<suffix>, where suffix
// (a short id of the migration, say) is lower-cased and reduced to
// [a-z0-9_]. The name is the same for the same arguments, so a reconciler
// that restarts finds the green it was building. It fits both engines'
// limits: when too long, blue's name is shortened and a hash of the full
// name keeps distinct blues apart, and a suffix longer than 16 bytes is
// replaced by its start and a hash.
func GreenName(blue, suffix string) string {
	suffix = shortened(cleanSuffix(suffix), suffixLimit)
	infix := greenInfix
	if suffix == "" {
		infix = strings.TrimSuffix(greenInfix, "_")
	}
	room := nameLimit - len(infix) - len(suffix)
	return shortened(blue, room) + infix + suffix
}

// cleanSuffix lower-cases s and replaces anything but [a-z0-9_] with "_":
// a suffix often comes from a Kubernetes UID or name, whose dashes and dots
// would make the database name need quoting in every tool.
func cleanSuffix(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// shortened returns s when it fits in limit bytes, or else its start and
// "_" and a hash of all of s, in exactly limit bytes or fewer: still the
// same every time, still distinct for distinct s.
func shortened(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	tag := hex.EncodeToString(sum[:])[:tagLen]
	return truncate(s, limit-len(tag)-1) + "_" + tag
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// databaseName is the database a URL addresses.
func databaseName(u *url.URL) string { return strings.TrimPrefix(u.Path, "/") }

// withDatabase is u pointing at another database on the same server,
// credentials and parameters unchanged.
func withDatabase(u *url.URL, name string) *url.URL {
	c := *u
	c.Path = "/" + name
	c.RawPath = ""
	return &c
}

// checkGreenName refuses a name Clone or Drop must not use: empty, longer
// than the engine takes, or blue's own, which Drop would destroy.
func checkGreenName(d dialect, blue *database.Target, green string) error {
	limit := d.IdentLimit()
	switch {
	case green == "":
		return fmt.Errorf("%w: the name is empty", ErrGreenName)
	case len(green) > limit:
		return fmt.Errorf("%w: %q is %d bytes, more than the %d the server takes", ErrGreenName, green, len(green), limit)
	case strings.ContainsAny(green, "/\x00"):
		return fmt.Errorf("%w: %q holds a slash or a NUL byte", ErrGreenName, green)
	case green == databaseName(blue.URL):
		return fmt.Errorf("%w: %q is blue's own database", ErrGreenName, green)
	}
	return nil
}
