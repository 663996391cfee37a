package sqlstatic

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind sorts what a statement is made of into what the checks need to
// tell apart: only a word can be a keyword.
type tokenKind int

const (
	// word is a keyword, an unquoted identifier or a number.
	word tokenKind = iota
	// quotedIdent is a "double-quoted" or `backquoted` identifier.
	quotedIdent
	// literal is a '...' string or a $tag$...$tag$ string.
	literal
	// punct is any other single character: ( ) , . ; * and the like.
	punct
)

type token struct {
	kind tokenKind
	// text is the token as written, quotes included.
	text string
	// spaced is true when whitespace or a comment came before the token.
	spaced bool
}

// is reports whether the token is the keyword kw (upper case).
func (t token) is(kw string) bool {
	return t.kind == word && strings.EqualFold(t.text, kw)
}

func (t token) isPunct(p string) bool {
	return t.kind == punct && t.text == p
}

// ident is the identifier a word or quoted identifier names, unquoted.
func (t token) ident() (string, bool) {
	switch t.kind {
	case word:
		return t.text, true
	case quotedIdent:
		q := t.text[:1]
		return strings.ReplaceAll(t.text[1:len(t.text)-1], q+q, q), true
	}
	return "", false
}

// lexOptions are the parts of a dialect that change what a token is.
type lexOptions struct {
	backslashEscapes bool // MySQL: \' does not end a string
	hashComments     bool // MySQL: # starts a comment
	dollarQuotes     bool // PostgreSQL: $tag$...$tag$ strings
}

// lexOptionsFor reads a dialect as Atlas's scanner does. Its
// EscapedStringExt option (PostgreSQL's E'...' strings) has no effect in
// Atlas v0.38: the scanner looks for the E where the quote is. We follow the
// scanner rather than PostgreSQL, so that the statements checked are the
// statements Atlas runs; a backslash-escaped quote in an E-string does not
// lex in either.
func lexOptionsFor(d scanOptions) lexOptions {
	return lexOptions{
		backslashEscapes: d.BackslashEscapes,
		hashComments:     d.HashComments,
		dollarQuotes:     d.MatchDollarQuote,
	}
}

// dollarTag matches the opening of a dollar-quoted string. It accepts the
// tags Atlas's scanner accepts, so both agree on where the string ends.
var dollarTag = regexp.MustCompile(`^\$(?:[A-Za-z_\x{C8}-\x{FF}][0-9A-Za-z_\x{C8}-\x{FF}]*)?\$`)

// lexError is input that does not lex, at a byte offset of the statement.
type lexError struct {
	offset int
	msg    string
}

func (e *lexError) Error() string { return e.msg }

// tokenize reads one statement into tokens, dropping whitespace and
// comments. It fails on a string, quoted identifier, dollar-quoted string or
// block comment that is never closed.
func tokenize(src string, opts lexOptions) ([]token, error) {
	var (
		toks   []token
		spaced bool
	)
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		start := i
		var (
			kind tokenKind
			end  int
			err  error
		)
		switch {
		case unicode.IsSpace(r):
			i += size
			spaced = true
			continue
		case strings.HasPrefix(src[i:], "--"), r == '#' && opts.hashComments:
			i = lineEnd(src, i)
			spaced = true
			continue
		case strings.HasPrefix(src[i:], "/*"):
			n := strings.Index(src[i+2:], "*/")
			if n < 0 {
				return nil, &lexError{offset: i, msg: "unterminated /* comment"}
			}
			i += 2 + n + 2
			spaced = true
			continue
		case r == '\'':
			kind = literal
			end, err = closeQuote(src, i, opts.backslashEscapes)
		case r == '"' || r == '`':
			kind = quotedIdent
			end, err = closeQuote(src, i, opts.backslashEscapes)
		case r == '$' && opts.dollarQuotes && dollarTag.MatchString(src[i:]):
			kind = literal
			end, err = closeDollar(src, i)
		case isWordRune(r, true):
			kind = word
			end = i + size
			for end < len(src) {
				r, size := utf8.DecodeRuneInString(src[end:])
				if !isWordRune(r, false) {
					break
				}
				end += size
			}
		default:
			kind = punct
			end = i + size
		}
		if err != nil {
			return nil, err
		}
		toks = append(toks, token{kind: kind, text: src[start:end], spaced: spaced && len(toks) > 0})
		spaced = false
		i = end
	}
	return toks, nil
}

func isWordRune(r rune, first bool) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || (!first && r == '$')
}

func lineEnd(src string, i int) int {
	if n := strings.IndexByte(src[i:], '\n'); n >= 0 {
		return i + n + 1
	}
	return len(src)
}

// closeQuote returns the offset just past the quote that closes the one at
// src[open]. A doubled quote stands for itself.
func closeQuote(src string, open int, backslashEscapes bool) (int, error) {
	q := src[open]
	for i := open + 1; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\\' && backslashEscapes:
			i++
		case c == q && i+1 < len(src) && src[i+1] == q:
			i++
		case c == q:
			return i + 1, nil
		}
	}
	what := "string"
	if q != '\'' {
		what = "quoted identifier"
	}
	return 0, &lexError{offset: open, msg: "unterminated " + what + " starting with " + string(q)}
}

func closeDollar(src string, open int) (int, error) {
	tag := dollarTag.FindString(src[open:])
	n := strings.Index(src[open+len(tag):], tag)
	if n < 0 {
		return 0, &lexError{offset: open, msg: "unterminated dollar-quoted string starting with " + tag}
	}
	return open + len(tag) + n + len(tag), nil
}

// trimDelimiter drops the semicolons a statement ends with.
func trimDelimiter(toks []token) []token {
	for len(toks) > 0 && toks[len(toks)-1].isPunct(";") {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// render writes tokens back as text, one blank wherever the statement had
// whitespace or a comment.
func render(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.spaced {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}
