package sqlstatic

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The gate must read a statement as the database will, not as Atlas's
// scanner splits it: where the two disagree on what is a string or a
// comment, text the gate takes for a literal could run as code. So it lexes
// each statement again by its engine's own rules (below), in every mode a
// session could be in, since a setting the statement cannot see decides how
// the server lexes it (PostgreSQL's standard_conforming_strings, MySQL's
// NO_BACKSLASH_ESCAPES and ANSI_QUOTES, the server version that decides
// which /*!NNNNN ... */ comments run). A statement is refused when any
// reading reaches out. A reading the model cannot lex is skipped: the
// server in that mode cannot lex it either, so it would not run.
//
// The differences from the package's tokenizer that matter here:
//   - PostgreSQL: E'...' strings take backslash escapes; block comments
//     nest; a -- comment ends at \r as well as \n; dollar-quote tags may
//     hold any non-ASCII byte; a backquote is not a quote.
//   - MySQL, MariaDB: `--` starts a comment only before a space or control
//     character (`1--1` is arithmetic); /*! ... */ (and MariaDB's
//     /*M! ... */) comments run as code; backquoted names take no
//     backslash escapes; "..." is a string, or a name under ANSI_QUOTES.
//   - SQLite: [names] in brackets; an unterminated /* comment runs to the
//     end; $name(...) parameters may hold quotes.

// family is a dialect the gate has a lexer for.
type family int

const (
	famPostgres family = iota
	famMySQL
	famMariaDB
	famSQLite
)

// familiesFor returns the dialects a statement for engine is read in: all
// of them when the engine is not known, so that no reading is missed.
func familiesFor(engine Dialect) []family {
	switch engine {
	case DialectPostgreSQL:
		return []family{famPostgres}
	case DialectMySQL:
		return []family{famMySQL}
	case DialectMariaDB:
		return []family{famMariaDB}
	case DialectSQLite:
		return []family{famSQLite}
	}
	return []family{famPostgres, famMySQL, famMariaDB, famSQLite}
}

func (f family) mysqlLike() bool { return f == famMySQL || f == famMariaDB }

// lexMode is one way a server may lex a statement.
type lexMode struct {
	fam family
	// backslash: backslash escapes in '...' strings (PostgreSQL with
	// standard_conforming_strings off; MySQL without NO_BACKSLASH_ESCAPES)
	// and, in MySQL, in "..." strings.
	backslash bool
	// ansiQuotes: in MySQL, "..." is a name (sql_mode ANSI_QUOTES).
	ansiQuotes bool
	// version: MySQL and MariaDB run a /*!NNNNN comment's content when NNNNN
	// is at most the server's version; a comment without a number always
	// runs.
	version int
}

// maxVersions bounds the readings a statement with many differently
// numbered /*!NNNNN comments gets; one with more is not read at all.
const maxVersions = 16

var versionedComment = regexp.MustCompile(`/\*M?!([0-9]{0,6})`)

// lexModes are the readings a statement gets in a family, or false when
// there would be too many to try.
func lexModes(fam family, text string) ([]lexMode, bool) {
	switch fam {
	case famPostgres:
		return []lexMode{{fam: fam}, {fam: fam, backslash: true}}, true
	case famSQLite:
		return []lexMode{{fam: fam}}, true
	}
	versions := []int{-1}
	for _, m := range versionedComment.FindAllStringSubmatch(text, -1) {
		if m[1] == "" {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if !slices.Contains(versions, n) {
			versions = append(versions, n)
		}
	}
	if len(versions) > maxVersions {
		return nil, false
	}
	var modes []lexMode
	for _, v := range versions {
		for _, backslash := range []bool{true, false} {
			for _, ansi := range []bool{false, true} {
				modes = append(modes, lexMode{fam: fam, backslash: backslash, ansiQuotes: ansi, version: v})
			}
		}
	}
	return modes, true
}

// lexAs reads src into tokens as the server does in mode m.
func lexAs(src string, m lexMode) ([]token, error) {
	var (
		toks      []token
		spaced    bool
		versioned bool // inside a MySQL /*! comment whose content runs
		mysql     = m.fam.mysqlLike()
	)
	emit := func(kind tokenKind, start, end int) {
		toks = append(toks, token{kind: kind, text: src[start:end], spaced: spaced && len(toks) > 0})
		spaced = false
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case isSpaceByte(c):
			i++
			spaced = true
		case strings.HasPrefix(src[i:], "--") && (!mysql || i+2 == len(src) || src[i+2] <= ' ' || src[i+2] == 0x7f):
			i = commentEnd(src, i, m.fam == famPostgres)
			spaced = true
		case c == '#' && mysql:
			i = commentEnd(src, i, false)
			spaced = true
		case versioned && strings.HasPrefix(src[i:], "*/"):
			versioned = false
			i += 2
			spaced = true
		case strings.HasPrefix(src[i:], "/*"):
			if n, runs := versionedOpen(src[i:], m); n > 0 {
				spaced = true
				if runs {
					versioned = true
					i += n
					continue
				}
				end := strings.Index(src[i+n:], "*/")
				if end < 0 {
					return nil, &lexError{offset: i, msg: "unterminated /*! comment"}
				}
				i += n + end + 2
				continue
			}
			end, err := blockCommentEnd(src, i, m.fam)
			if err != nil {
				return nil, err
			}
			i = end
			spaced = true
		case c == '\'':
			end, err := closeQuote(src, i, m.backslash && m.fam != famSQLite)
			if err != nil {
				return nil, err
			}
			emit(literal, i, end)
			i = end
		case c == '"':
			if mysql && !m.ansiQuotes {
				end, err := closeQuote(src, i, m.backslash)
				if err != nil {
					return nil, err
				}
				emit(literal, i, end)
				i = end
				continue
			}
			end, err := closeQuote(src, i, false)
			if err != nil {
				return nil, err
			}
			emit(quotedIdent, i, end)
			i = end
		case c == '`' && m.fam != famPostgres:
			end, err := closeQuote(src, i, false)
			if err != nil {
				return nil, err
			}
			emit(quotedIdent, i, end)
			i = end
		case c == '[' && m.fam == famSQLite:
			n := strings.IndexByte(src[i+1:], ']')
			if n < 0 {
				return nil, &lexError{offset: i, msg: "unterminated [name]"}
			}
			emit(quotedIdent, i, i+n+2)
			i += n + 2
		case c == '$' && m.fam == famPostgres:
			if tag := pgDollarTag(src[i:]); tag != "" {
				n := strings.Index(src[i+len(tag):], tag)
				if n < 0 {
					return nil, &lexError{offset: i, msg: "unterminated dollar-quoted string"}
				}
				end := i + len(tag) + n + len(tag)
				emit(literal, i, end)
				i = end
				continue
			}
			emit(punct, i, i+1)
			i++
		case m.fam == famSQLite && (c == '$' || c == '@' || c == ':' || c == '#'):
			end, err := sqliteVariable(src, i)
			if err != nil {
				return nil, err
			}
			emit(punct, i, end)
			i = end
		case isWordByte(c, true, m.fam):
			end := i + 1
			for end < len(src) && isWordByte(src[end], false, m.fam) {
				end++
			}
			// PostgreSQL's E'...' takes backslash escapes whatever the
			// setting; the E must stand alone, as in `abcE'x'` it ends a name.
			if m.fam == famPostgres && end == i+1 && (c == 'E' || c == 'e') && end < len(src) && src[end] == '\'' {
				close, err := closeQuote(src, end, true)
				if err != nil {
					return nil, err
				}
				emit(literal, i, close)
				i = close
				continue
			}
			emit(word, i, end)
			i = end
		default:
			emit(punct, i, i+1)
			i++
		}
	}
	if versioned {
		return nil, &lexError{offset: len(src), msg: "unterminated /*! comment"}
	}
	return toks, nil
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// isWordByte: every engine here takes any byte of a multi-byte character
// for part of a name, as well as ASCII letters, digits, _ and (after the
// first byte; in MySQL anywhere) $.
func isWordByte(c byte, first bool, fam family) bool {
	switch {
	case c >= 0x80, c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '$':
		return !first || fam.mysqlLike()
	}
	return false
}

// commentEnd is the offset past a line comment starting at i. PostgreSQL
// ends one at a carriage return too.
func commentEnd(src string, i int, cr bool) int {
	for ; i < len(src); i++ {
		if src[i] == '\n' || (cr && src[i] == '\r') {
			return i + 1
		}
	}
	return len(src)
}

// blockCommentEnd is the offset past the /* comment starting at i.
func blockCommentEnd(src string, i int, fam family) (int, error) {
	depth := 0
	for j := i; j+1 < len(src); j++ {
		switch {
		case src[j] == '/' && src[j+1] == '*' && (depth == 0 || fam == famPostgres):
			depth++
			j++
		case src[j] == '*' && src[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	if fam == famSQLite {
		return len(src), nil
	}
	return 0, &lexError{offset: i, msg: "unterminated /* comment"}
}

// versionedOpen reads a MySQL /*!NNNNN (or MariaDB /*M!NNNNNN) opener at
// the start of s: its length, 0 when s opens a plain comment, and whether
// its content runs in mode m.
func versionedOpen(s string, m lexMode) (int, bool) {
	n := 0
	switch {
	case !m.fam.mysqlLike():
		return 0, false
	case strings.HasPrefix(s, "/*!"):
		n = 3
	case strings.HasPrefix(s, "/*M!") && m.fam == famMariaDB:
		n = 4
	default:
		return 0, false
	}
	digits := 0
	for digits < 6 && n+digits < len(s) && s[n+digits] >= '0' && s[n+digits] <= '9' {
		digits++
	}
	if digits == 0 {
		return n, true
	}
	v, _ := strconv.Atoi(s[n : n+digits])
	return n + digits, v <= m.version
}

// pgDollarTag is the $tag$ that opens a dollar-quoted string at the start
// of s, as PostgreSQL's scanner reads one, or "".
func pgDollarTag(s string) string {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			return s[:i+1]
		case c == '_', c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 1:
		default:
			return ""
		}
	}
	return ""
}

// sqliteVariable is the offset past a SQLite parameter ($name, @name,
// :name, #name) starting at i, with the Tcl forms $a::b and $a(...), whose
// parentheses run to the next blank or ')', quotes included.
func sqliteVariable(src string, i int) (int, error) {
	n := 0
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case isWordByte(c, false, famSQLite):
			n++
			j++
			continue
		case c == '(' && n > 0:
			for j++; j < len(src) && !isSpaceByte(src[j]) && src[j] != ')'; j++ {
			}
			if j == len(src) || src[j] != ')' {
				return 0, &lexError{offset: i, msg: "unterminated parameter"}
			}
			return j + 1, nil
		case c == ':' && j+1 < len(src) && src[j+1] == ':':
			j += 2
			continue
		}
		break
	}
	if n == 0 {
		// A lone $, @, : or # is not valid SQLite; keep it as punctuation.
		return i + 1, nil
	}
	return j, nil
}

// literalValue is the text a string literal stands for in mode m.
func literalValue(t token, m lexMode) string {
	s := t.text
	if strings.HasPrefix(s, "$") {
		tag := pgDollarTag(s)
		if tag == "" || len(s) < 2*len(tag) {
			return ""
		}
		return s[len(tag) : len(s)-len(tag)]
	}
	backslash := m.backslash && m.fam != famSQLite
	if s != "" && (s[0] == 'E' || s[0] == 'e') {
		s, backslash = s[1:], true
	}
	if len(s) < 2 {
		return ""
	}
	q := s[0]
	s = s[1 : len(s)-1]
	if !backslash {
		return strings.ReplaceAll(s, string([]byte{q, q}), string(q))
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case c == '\\' && i+1 < len(s):
			i++
			n := unescape(s[i:], m.fam, &b)
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescape writes what the backslash escape starting at s (after the
// backslash) stands for and returns how many bytes it took.
func unescape(s string, fam family, b *strings.Builder) int {
	c := s[0]
	switch c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case '0':
		if fam.mysqlLike() {
			b.WriteByte(0)
			return 1
		}
		return octal(s, b)
	case 'Z':
		if fam.mysqlLike() {
			b.WriteByte(0x1a)
		} else {
			b.WriteByte(c)
		}
	case 'x':
		if fam == famPostgres {
			n := 1
			for n < 3 && n < len(s) && isHex(s[n]) {
				n++
			}
			if n > 1 {
				v, _ := strconv.ParseUint(s[1:n], 16, 8)
				b.WriteByte(byte(v))
				return n
			}
		}
		b.WriteByte(c)
	case 'u', 'U':
		width := 4
		if c == 'U' {
			width = 8
		}
		if fam == famPostgres && len(s) > width && allHex(s[1:1+width]) {
			v, _ := strconv.ParseUint(s[1:1+width], 16, 32)
			b.WriteRune(rune(v))
			return 1 + width
		}
		b.WriteByte(c)
	default:
		if fam == famPostgres && c >= '1' && c <= '7' {
			return octal(s, b)
		}
		if fam.mysqlLike() && (c == '%' || c == '_') {
			b.WriteByte('\\') // MySQL keeps \% and \_ for LIKE
		}
		b.WriteByte(c)
	}
	return 1
}

func octal(s string, b *strings.Builder) int {
	n := 0
	for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
		n++
	}
	v, _ := strconv.ParseUint(s[:n], 8, 16)
	b.WriteByte(byte(v))
	return n
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}
