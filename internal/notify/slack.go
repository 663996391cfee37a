package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// slackPayload is an incoming-webhook message (Slack's JSON).
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slackBlock is a layout block; we send one section.
type slackBlock struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
}

// slackText is a block's text object.
type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// sendSlack posts m to the incoming webhook at hook. The URL is a
// credential: errors never carry it.
func sendSlack(ctx context.Context, client *http.Client, hook string, m Message) error {
	body, err := json.Marshal(slackPayloadFor(m))
	if err != nil {
		return fmt.Errorf("encoding the Slack message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL.
		return errors.New("the webhook URL is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return redactURL(err, hook)
	}
	defer func() { _ = resp.Body.Close() }()
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

// slackPayloadFor is m as an incoming-webhook message: the plain text as
// the fallback every client shows, and the body as a section block.
func slackPayloadFor(m Message) slackPayload {
	return slackPayload{
		Text:   m.Subject() + "\n" + m.Body(),
		Blocks: []slackBlock{{Type: "section", Text: slackText{Type: "mrkdwn", Text: "```" + m.Body() + "```"}}},
	}
}

// redactURL drops the URL a *url.Error carries, keeping what went wrong,
// and cuts the URL and its path (where the token is) from whatever the
// inner error quotes.
func redactURL(err error, hook string) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	secrets := []string{hook}
	if u, perr := url.Parse(hook); perr == nil {
		secrets = append(secrets, u.Path, u.RawQuery)
	}
	return fmt.Errorf("posting to the webhook: %w", redact(err, secrets...))
}
