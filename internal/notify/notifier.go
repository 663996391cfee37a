package notify

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// Channels, as Result.Channel and the metric's channel label name them.
const (
	ChannelSlack = "slack"
	ChannelEmail = "email"
)

// The metric's result label.
const (
	resultSuccess = "success"
	resultFailure = "failure"
	resultDropped = "dropped"
)

// Deliveries counts notifications by channel and result (success,
// failure after the last attempt, dropped for a full queue).
var Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kube_shift_notifications_total",
	Help: "Notifications by channel and result: success, failure (after every retry) or dropped (queue full).",
}, []string{"channel", "result"})

// init registers Deliveries where the manager's metrics endpoint serves
// from.
func init() { crmetrics.Registry.MustRegister(Deliveries) }

// Options tune delivery; zero values take the defaults.
type Options struct {
	// Attempts per message (default 5), the first Backoff between them
	// (default 1s, doubling up to MaxBackoff, default 1m), and Timeout
	// per attempt (default 10s).
	Attempts            int
	Backoff, MaxBackoff time.Duration
	Timeout             time.Duration
	// Workers deliver in parallel (default 2); QueueSize bounds what
	// waits (default 100).
	Workers, QueueSize int
	// OnResult, when set, is called after an object's outcome changes,
	// so the reconciler can requeue it and show it. It is called from the
	// workers and, for a dropped message, from Notify itself: it must not
	// block.
	OnResult func(types.NamespacedName)
	// HTTPClient posts to Slack. When nil, a client with Timeout that
	// does not follow redirects: the message goes to the webhook the
	// Secret names and nowhere else.
	HTTPClient *http.Client
}

// withDefaults fills what the caller left zero, so a bare Options{} is
// what production wants and tests only shorten the waits.
func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Attempts, 5)
	def(&o.Workers, 2)
	def(&o.QueueSize, 100)
	defDur(&o.Backoff, time.Second)
	defDur(&o.MaxBackoff, time.Minute)
	defDur(&o.Timeout, 10*time.Second)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{
			Timeout:       o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return o
}

// Result is the latest outcome of a channel's delivery for an object.
type Result struct {
	Channel  string
	Phase    dbv1.MigrationPhase
	At       time.Time
	Attempts int
	// Err is empty on success; otherwise what went wrong, without any
	// secret.
	Err string

	// seq orders outcomes by the Notify call they answer, so a slow retry
	// of an older phase never hides a newer phase's outcome.
	seq uint64
}

// job is one message for one object, with the channels to send it on.
// It is a copy: the reconciler may change its object once Notify returns.
type job struct {
	key     types.NamespacedName
	message Message
	spec    dbv1.NotificationConfig
	seq     uint64
}

// Notifier delivers notifications in the background.
type Notifier struct {
	reader client.Reader
	opts   Options
	queue  chan job

	// seq numbers the Notify calls (see Result.seq).
	seq atomic.Uint64

	mu      sync.Mutex
	results map[types.NamespacedName]map[string]Result
}

// New returns a Notifier reading Secrets through reader. Add it to the
// manager (it is a Runnable) so its workers run.
func New(reader client.Reader, opts Options) *Notifier {
	opts = opts.withDefaults()
	return &Notifier{reader: reader, opts: opts, queue: make(chan job, opts.QueueSize), results: map[types.NamespacedName]map[string]Result{}}
}

// Notify queues the message of dbm's phase, when the phase is one people
// hear about and dbm asks for notifications. It never blocks.
func (n *Notifier) Notify(_ context.Context, dbm *dbv1.DatabaseMigration) {
	spec := dbm.Spec.Notifications
	if spec == nil || !notified[dbm.Status.Phase] || (spec.Slack == nil && spec.Email == nil) {
		return
	}
	j := job{key: client.ObjectKeyFromObject(dbm), message: MessageFor(dbm), spec: *spec.DeepCopy(), seq: n.seq.Add(1)}
	select {
	case n.queue <- j:
	default:
		n.drop(j)
	}
}

// drop records that j was never sent: the queue was full, and waiting for
// room would make the reconciler wait for a slow endpoint.
func (n *Notifier) drop(j job) {
	for _, ch := range j.channels() {
		Deliveries.WithLabelValues(ch, resultDropped).Inc()
		n.record(j.key, Result{Channel: ch, Phase: j.message.Phase, At: time.Now(), Err: "dropped: the notification queue is full", seq: j.seq})
	}
}

// channels are the channels j asks for, in a fixed order.
func (j job) channels() []string {
	var out []string
	if j.spec.Slack != nil {
		out = append(out, ChannelSlack)
	}
	if j.spec.Email != nil {
		out = append(out, ChannelEmail)
	}
	return out
}

// Start runs the workers until ctx is done; it is a manager Runnable.
// Messages still queued then are not sent.
func (n *Notifier) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range n.opts.Workers {
		wg.Go(func() { n.work(ctx) })
	}
	wg.Wait()
	return nil
}

// work delivers queued messages one at a time until ctx is done.
func (n *Notifier) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-n.queue:
			n.deliver(ctx, j)
		}
	}
}

// NeedLeaderElection is true: only the leader reconciles, so only the
// leader has anything to say.
func (n *Notifier) NeedLeaderElection() bool { return true }

// Delivery returns the latest outcome for key on each channel it was
// notified on (slack first, then email); none before the first outcome.
func (n *Notifier) Delivery(key types.NamespacedName) []Result {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Result
	for _, ch := range []string{ChannelSlack, ChannelEmail} {
		if r, ok := n.results[key][ch]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Forget drops what is kept about a deleted object.
func (n *Notifier) Forget(key types.NamespacedName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.results, key)
}

// record keeps r as key's outcome on its channel, unless an outcome of a
// later Notify is already there, and tells OnResult.
func (n *Notifier) record(key types.NamespacedName, r Result) {
	n.mu.Lock()
	if n.results[key] == nil {
		n.results[key] = map[string]Result{}
	}
	if old, ok := n.results[key][r.Channel]; ok && old.seq > r.seq {
		n.mu.Unlock()
		return
	}
	n.results[key][r.Channel] = r
	n.mu.Unlock()
	if n.opts.OnResult != nil {
		n.opts.OnResult(key)
	}
}

// deliver sends j on each of its channels, with retries.
func (n *Notifier) deliver(ctx context.Context, j job) {
	log := ctrl.LoggerFrom(ctx).WithValues("databasemigration", j.key, "phase", j.message.Phase)
	if j.spec.Slack != nil {
		n.retry(ctx, j, ChannelSlack, log, func(actx context.Context) error {
			hook, err := n.slackURL(actx, j.key.Namespace, j.spec.Slack.Webhook)
			if err != nil {
				return err
			}
			return sendSlack(actx, n.opts.HTTPClient, hook, j.message)
		})
	}
	if j.spec.Email != nil {
		n.retry(ctx, j, ChannelEmail, log, func(actx context.Context) error {
			cfg, err := n.smtpConfig(actx, j.key.Namespace, j.spec.Email.SMTPSecret)
			if err != nil {
				return err
			}
			return sendMail(actx, cfg, j.spec.Email.Recipients, j.message)
		})
	}
}

// retry runs send until it succeeds or the attempts run out, each attempt
// within Timeout, backing off exponentially between them, and records the
// outcome. Every error is retried: a missing Secret may be created, a
// refusing endpoint may come back.
func (n *Notifier) retry(ctx context.Context, j job, channel string, log infoLogger, send func(context.Context) error) {
	wait := n.opts.Backoff
	var err error
	attempts := 0
	for attempts < n.opts.Attempts {
		attempts++
		err = n.attempt(ctx, send)
		if err == nil || attempts == n.opts.Attempts || !sleep(ctx, wait) {
			break
		}
		wait = min(2*wait, n.opts.MaxBackoff)
	}
	r := Result{Channel: channel, Phase: j.message.Phase, At: time.Now(), Attempts: attempts, seq: j.seq}
	if err != nil {
		r.Err = err.Error()
		Deliveries.WithLabelValues(channel, resultFailure).Inc()
		log.Info("notification not delivered", "channel", channel, "attempts", attempts, "error", r.Err)
	} else {
		Deliveries.WithLabelValues(channel, resultSuccess).Inc()
	}
	n.record(j.key, r)
}

// infoLogger is the part of a logr.Logger retry writes to.
type infoLogger interface {
	Info(msg string, keysAndValues ...any)
}

// attempt runs send once, within the per-attempt Timeout.
func (n *Notifier) attempt(ctx context.Context, send func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	return send(actx)
}

// sleep waits d, or less when ctx is done first; it reports whether the
// wait ran its course.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// slackURL reads the webhook URL from its Secret.
func (n *Notifier) slackURL(ctx context.Context, namespace, name string) (string, error) {
	data, err := n.secret(ctx, namespace, name)
	if err != nil {
		return "", err
	}
	for _, k := range []string{"url", "webhook"} {
		if v := data[k]; len(v) > 0 {
			return string(v), nil
		}
	}
	if len(data) == 1 {
		for _, v := range data {
			return string(v), nil
		}
	}
	return "", fmt.Errorf("the Slack Secret %s/%s has no key url (nor webhook, nor a single key)", namespace, name)
}

// smtpConfig reads the SMTP settings from their Secret.
func (n *Notifier) smtpConfig(ctx context.Context, namespace, name string) (smtpConfig, error) {
	if name == "" {
		return smtpConfig{}, fmt.Errorf("spec.notifications.email.smtpSecret names no Secret with the SMTP settings")
	}
	data, err := n.secret(ctx, namespace, name)
	if err != nil {
		return smtpConfig{}, err
	}
	return smtpFrom(namespace+"/"+name, data)
}

// secret reads the Secret's data at the moment of sending, so a Secret
// fixed after a failure is used by the next attempt. Errors name the
// Secret, never its contents.
func (n *Notifier) secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := n.reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("the Secret %s/%s was not found", namespace, name)
		}
		return nil, fmt.Errorf("reading the Secret %s/%s: %w", namespace, name, err)
	}
	return s.Data, nil
}
