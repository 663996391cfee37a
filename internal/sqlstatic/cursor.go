package sqlstatic

import "strings"

// cursor walks a statement's tokens for the checks' small grammars.
type cursor struct {
	toks []token
	i    int
}

// accept consumes the keywords kws if the next tokens are exactly them.
func (c *cursor) accept(kws ...string) bool {
	if c.i+len(kws) > len(c.toks) {
		return false
	}
	for k, kw := range kws {
		if !c.toks[c.i+k].is(kw) {
			return false
		}
	}
	c.i += len(kws)
	return true
}

// acceptAny consumes the next token if it is one of kws.
func (c *cursor) acceptAny(kws ...string) bool {
	for _, kw := range kws {
		if c.accept(kw) {
			return true
		}
	}
	return false
}

func (c *cursor) acceptPunct(p string) bool {
	if c.i < len(c.toks) && c.toks[c.i].isPunct(p) {
		c.i++
		return true
	}
	return false
}

// name consumes a possibly qualified name (a, "s"."t", or db.t in MySQL
// backquotes) and returns its parts unquoted and joined with dots; "" when
// there is none.
func (c *cursor) name() string {
	var parts []string
	for c.i < len(c.toks) {
		part, ok := c.toks[c.i].ident()
		if !ok {
			break
		}
		parts = append(parts, part)
		c.i++
		if c.i+1 >= len(c.toks) || !c.toks[c.i].isPunct(".") {
			break
		}
		c.i++
	}
	return strings.Join(parts, ".")
}

// names consumes `name [*], name [*], ...` as DROP TABLE and TRUNCATE list
// them, with PostgreSQL's ONLY before any of them.
func (c *cursor) names() []string {
	var names []string
	for {
		c.accept("ONLY")
		n := c.name()
		if n == "" {
			return names
		}
		names = append(names, n)
		c.acceptPunct("*")
		if !c.acceptPunct(",") {
			return names
		}
	}
}

// hasTopLevel reports whether keyword kw follows outside parentheses, so
// that a subquery's WHERE does not count for its statement.
func (c *cursor) hasTopLevel(kw string) bool {
	depth := 0
	for _, t := range c.toks[c.i:] {
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		case depth == 0 && t.is(kw):
			return true
		}
	}
	return false
}

// splitTopLevel returns the rest of the tokens cut at sep outside
// parentheses.
func (c *cursor) splitTopLevel(sep string) [][]token {
	var (
		parts [][]token
		depth int
		start = c.i
	)
	for i := c.i; i < len(c.toks); i++ {
		switch t := c.toks[i]; {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		case depth == 0 && t.isPunct(sep):
			parts = append(parts, c.toks[start:i])
			start = i + 1
		}
	}
	return append(parts, c.toks[start:])
}
