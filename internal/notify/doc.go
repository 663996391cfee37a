// Package notify tells people about a DatabaseMigration's phase changes:
// spec.notifications.slack (an incoming webhook whose URL a Secret holds)
// and spec.notifications.email (SMTP, its settings in a Secret).
//
// The reconciler calls Notifier.Notify after it writes a new phase. Notify
// copies what the message needs and queues it; workers read the Secrets,
// deliver, and retry with exponential backoff. Nothing here blocks or fails
// a migration: a full queue drops the message and says so, a dead endpoint
// costs a worker's time, never the reconciler's. The latest outcome per
// object and channel is kept for the reconciler's Notified condition, and
// counted in kube_shift_notifications_total.
//
// Secrets: the Slack Secret's key `url` (or `webhook`, or its only key)
// holds the incoming-webhook URL; the SMTP Secret holds `host`, `port`
// (default 587), `username` and `password` (optional), `from`, and `tls`
// (`starttls`, the default, used when the server offers it; `tls` for
// implicit TLS; `none`). Neither the URL nor the password ever appears in
// a message, an error, a log line or the status: errors name the Secret
// and key.
package notify
