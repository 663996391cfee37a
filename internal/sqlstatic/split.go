package sqlstatic

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"ariga.io/atlas/sql/migrate"
)

// Stmt is one statement of a script.
type Stmt struct {
	// Text is the statement as Atlas's scanner returns it: as written,
	// comments inside it and its delimiter included, surrounding space
	// trimmed. This is what runs.
	Text string
	// Pos is the byte offset of Text in the script.
	Pos int
	// Line is the 1-based line of the script Text starts on.
	Line int
	// Stripped is Text without comments or the trailing delimiter, with
	// every run of space outside literals collapsed to one blank: what the
	// checks read and what messages quote.
	Stripped string

	// lex is how Text was lexed, so that the checks tokenise it the same way.
	lex lexOptions
}

// SyntaxError is SQL that does not lex: an unterminated quote, string or
// comment, or unbalanced parentheses.
type SyntaxError struct {
	// Line and Column are 1-based; Column counts bytes. Both are zero when
	// the scanner gave no position.
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// scanOptions are how one engine writes SQL: the options its Atlas driver
// scans statements with (ScanStmts in sql/mysql, sql/postgres and
// sql/sqlite), so a script splits here exactly as it splits when Atlas runs
// it. A test keeps the two in step.
type scanOptions = migrate.ScannerOptions

var (
	// generic is what migrate.Stmts uses when the engine is not known.
	generic = scanOptions{MatchBeginAtomic: true, MatchDollarQuote: true}

	dialects = map[Dialect]scanOptions{
		DialectPostgreSQL: {MatchBegin: true, MatchBeginAtomic: true, MatchDollarQuote: true, EscapedStringExt: true},
		DialectMySQL:      {MatchBegin: true, BackslashEscapes: true, HashComments: true},
		DialectMariaDB:    {MatchBegin: true, BackslashEscapes: true, HashComments: true},
		DialectSQLite:     {MatchBegin: true},
	}
)

// Split splits a script into statements the way Atlas does when it does not
// know the engine: `;` ends a statement, except inside quotes, comments,
// parentheses, PostgreSQL dollar-quoted strings and BEGIN ATOMIC bodies; a
// MySQL `DELIMITER` command or an `-- atlas:delimiter` directive changes the
// delimiter. Statements that hold nothing but comments are dropped.
func Split(sql string) ([]Stmt, error) {
	return split(sql, generic)
}

// SplitFor splits a script as Atlas's driver for engine does: backslash
// escapes and `#` comments for MySQL and MariaDB, dollar-quoted strings for
// PostgreSQL, BEGIN ... END blocks for all three. An unknown engine gets
// Split's rules.
func SplitFor(engine Dialect, sql string) ([]Stmt, error) {
	d, ok := dialects[engine]
	if !ok {
		d = generic
	}
	return split(sql, d)
}

func split(sql string, d scanOptions) ([]Stmt, error) {
	scanned, err := scan(sql, d)
	if err != nil {
		return nil, err
	}
	base := directiveLen(sql)
	opts := lexOptionsFor(d)
	stmts := make([]Stmt, 0, len(scanned))
	var lines LineCounter
	next := base // where the next statement may start
	for _, s := range scanned {
		pos := locate(sql, s.Text, min(base+s.Pos, len(sql)), next)
		next = min(pos+len(s.Text), len(sql))
		toks, err := tokenize(s.Text, opts)
		if err != nil {
			var lexErr *lexError
			if errors.As(err, &lexErr) {
				return nil, syntaxErrorAt(sql, pos+lexErr.offset, lexErr.msg)
			}
			return nil, err
		}
		toks = trimDelimiter(toks)
		if len(toks) == 0 {
			continue
		}
		stmts = append(stmts, Stmt{
			Text:     s.Text,
			Pos:      pos,
			Line:     lines.At(sql, pos),
			Stripped: render(toks),
			lex:      opts,
		})
	}
	return stmts, nil
}

// locate is where text, a statement Atlas's scanner read, is in sql: at
// pos, where the scanner says, or else at its first place from next on
// (the scanner miscounts after some delimiter directives, as
// `-- atlas:delimiter atlas:0`); pos when it is in neither.
func locate(sql, text string, pos, next int) int {
	if strings.HasPrefix(sql[pos:], text) {
		return pos
	}
	if i := strings.Index(sql[next:], text); i >= 0 {
		return next + i
	}
	return pos
}

// LineCounter gives the 1-based lines of increasing byte offsets in one
// text, counting each newline once: counting from the start for every
// statement made splitting and planning a 10,000-statement script
// quadratic. The zero value is ready to use.
type LineCounter struct {
	pos, line int
}

// At is the line of offset pos in text; an offset before the last one
// asked for is counted from the start.
func (c *LineCounter) At(text string, pos int) int {
	pos = min(pos, len(text))
	if pos < c.pos || c.line == 0 {
		c.pos, c.line = 0, 1
	}
	c.line += strings.Count(text[c.pos:pos], "\n")
	c.pos = pos
	return c.line
}

// scan runs Atlas's scanner. Admission feeds it whatever a user wrote, and
// the scanner panics on some of that (`DELIMITER '` slices past its end), so
// a panic is reported as input that does not lex.
func scan(sql string, d scanOptions) (stmts []*migrate.Stmt, err error) {
	defer func() {
		if r := recover(); r != nil {
			stmts, err = nil, &SyntaxError{Msg: fmt.Sprintf("the statement scanner cannot read this input: %v", r)}
		}
	}()
	// Atlas takes a `--` or `#` comment that ends the input without a
	// newline for text, so a quote inside it would read as unterminated.
	stmts, err = (&migrate.Scanner{ScannerOptions: d}).Scan(sql + "\n")
	if err != nil {
		return nil, atlasSyntaxError(err)
	}
	return stmts, nil
}

// directiveLen is the length of an `-- atlas:delimiter` first line, which
// Atlas drops before counting statement positions.
func directiveLen(sql string) int {
	if !strings.HasPrefix(sql, "-- atlas:delimiter ") {
		return 0
	}
	if i := strings.IndexByte(sql, '\n'); i >= 0 {
		return i + 1
	}
	return 0
}

// atlasSyntaxError reads the "line:col: message" form of Atlas's scanner
// errors into a SyntaxError.
func atlasSyntaxError(err error) error {
	msg := err.Error()
	lineText, rest, ok1 := strings.Cut(msg, ":")
	colText, rest, ok2 := strings.Cut(rest, ": ")
	line, err1 := strconv.Atoi(lineText)
	col, err2 := strconv.Atoi(colText)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return &SyntaxError{Msg: msg}
	}
	return &SyntaxError{Line: line, Column: col, Msg: rest}
}

func syntaxErrorAt(sql string, offset int, msg string) error {
	offset = min(offset, len(sql))
	before := sql[:offset]
	return &SyntaxError{
		Line:   1 + strings.Count(before, "\n"),
		Column: offset - strings.LastIndexByte(before, '\n'),
		Msg:    msg,
	}
}
