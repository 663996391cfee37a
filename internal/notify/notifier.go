package notify

import (
	"context"
	"fmt"
	"net/http"
	"sync"
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

// Channels.
const (
	ChannelSlack = "slack"
	ChannelEmail = "email"
)

// Deliveries counts notifications by channel and result (success,
// failure after the last attempt, dropped for a full queue).
var Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kube_shift_notifications_total",
	Help: "Notifications by channel and result: success, failure (after every retry) or dropped (queue full).",
}, []string{"channel", "result"})

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
	// so the reconciler can show it.
	OnResult func(types.NamespacedName)
	// HTTPClient posts to Slack; a client with Timeout when nil.
	HTTPClient *http.Client
}

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
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
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
}

// job is one message for one object, with the channels to send it on.
type job struct {
	key     types.NamespacedName
	message Message
	spec    dbv1.NotificationConfig
}

// Notifier delivers notifications in the background.
type Notifier struct {
	reader client.Reader
	opts   Options
	queue  chan job

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
	j := job{key: client.ObjectKeyFromObject(dbm), message: MessageFor(dbm), spec: *spec.DeepCopy()}
	select {
	case n.queue <- j:
	default:
		for _, ch := range j.channels() {
			Deliveries.WithLabelValues(ch, "dropped").Inc()
			n.record(j.key, Result{Channel: ch, Phase: j.message.Phase, At: time.Now(), Err: "dropped: the notification queue is full"})
		}
	}
}

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

// Start runs the workers until ctx is done.
func (n *Notifier) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range n.opts.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-n.queue:
					n.deliver(ctx, j)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// NeedLeaderElection: every replica's reconciler is the leader's, so only
// the leader has anything to say.
func (n *Notifier) NeedLeaderElection() bool { return true }

// Delivery returns the latest outcome for key on each channel.
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

func (n *Notifier) record(key types.NamespacedName, r Result) {
	n.mu.Lock()
	if n.results[key] == nil {
		n.results[key] = map[string]Result{}
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

// retry runs send until it succeeds or the attempts run out, backing off
// between attempts, and records the outcome.
func (n *Notifier) retry(ctx context.Context, j job, channel string, log interface{ Info(string, ...any) }, send func(context.Context) error) {
	wait := n.opts.Backoff
	var err error
	attempts := 0
	for attempts < n.opts.Attempts {
		attempts++
		actx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
		err = send(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		if attempts < n.opts.Attempts {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait = min(2*wait, n.opts.MaxBackoff)
		}
	}
	r := Result{Channel: channel, Phase: j.message.Phase, At: time.Now(), Attempts: attempts}
	if err != nil {
		r.Err = err.Error()
		Deliveries.WithLabelValues(channel, "failure").Inc()
		log.Info("notification not delivered", "channel", channel, "attempts", attempts, "error", r.Err)
	} else {
		Deliveries.WithLabelValues(channel, "success").Inc()
	}
	n.record(j.key, r)
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
	return "", fmt.Errorf("the Slack Secret %s has no key url (or webhook)", name)
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
	return smtpFrom(name, data)
}

func (n *Notifier) secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := n.reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret %s not found", name)
		}
		return nil, fmt.Errorf("reading secret %s: %w", name, err)
	}
	return s.Data, nil
}
