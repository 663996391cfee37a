package notify

import (
	"errors"
	"strings"
)

// redacted stands where a secret was.
const redacted = "[redacted]"

// redact returns err with every secret cut from its text. Errors from
// net/http and net/smtp quote what they were given or what a server said,
// and these texts end up in the status and the logs; the secrets are the
// values a Secret held. Empty secrets, and ones too short to mean
// anything, are left alone: cutting every "/" would only garble the text.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	for _, s := range secrets {
		if len(s) >= minSecret {
			text = strings.ReplaceAll(text, s, redacted)
		}
	}
	return errors.New(text)
}

// minSecret is the shortest value redact cuts.
const minSecret = 4
