package source

import "strings"

// QuoteWindow is the shortest fragment of a Secret-sourced text that
// counts as quoting it: shorter ones are keywords and identifiers any
// message may hold. A whole text shorter than that counts too.
const QuoteWindow = 20

// Quotes reports whether message holds secret, whole or by a fragment of
// QuoteWindow bytes, with whitespace folded on both sides (a database may
// echo a statement on one line). A message that quotes a Secret-sourced
// script must not be shown: it is replaced by one that names the script.
func Quotes(message, secret string) bool {
	message, secret = fold(message), strings.TrimSuffix(fold(secret), ";")
	switch {
	case secret == "" || message == "":
		return false
	case len(secret) < QuoteWindow:
		return strings.Contains(message, secret)
	}
	windows := make(map[string]struct{}, len(message))
	for i := 0; i+QuoteWindow <= len(message); i++ {
		windows[message[i:i+QuoteWindow]] = struct{}{}
	}
	for i := 0; i+QuoteWindow <= len(secret); i++ {
		if _, ok := windows[secret[i:i+QuoteWindow]]; ok {
			return true
		}
	}
	return false
}

// fold collapses runs of whitespace into one space.
func fold(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
