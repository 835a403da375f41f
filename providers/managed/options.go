package managed

import "time"

// Defaults of Options.
const (
	// DefaultPollInterval is how often a Ready resource is observed for drift.
	DefaultPollInterval = 10 * time.Minute
	// defaultPollJitter spreads polls by up to this fraction of the interval.
	defaultPollJitter = 0.1
	// defaultTimeout bounds one reconcile, cloud calls included.
	defaultTimeout = 2 * time.Minute
	// defaultPendingPollInterval is how often a resource that the cloud is
	// still creating, changing or deleting is observed.
	defaultPendingPollInterval = 15 * time.Second
	// defaultBlockedRetryInterval is how often a blocked deletion is retried.
	defaultBlockedRetryInterval = time.Minute
	// defaultMaxConcurrentReconciles is the number of objects of one kind
	// reconciled at once.
	defaultMaxConcurrentReconciles = 10
	// Backoff of failing reconciles.
	defaultBaseBackoff = time.Second
	defaultMaxBackoff  = 5 * time.Minute
)

// Options tune the managed-resource reconcilers.
type Options struct {
	// PollInterval is how often a Ready resource is observed for drift,
	// unless its spec.pollInterval says otherwise.
	PollInterval time.Duration
	// PollJitter spreads polls by up to this fraction of the interval.
	PollJitter float64
	// PendingPollInterval is how often a resource the cloud is still
	// creating, changing or deleting is observed.
	PendingPollInterval time.Duration
	// BlockedRetryInterval is the longest wait before a blocked deletion is
	// retried.
	BlockedRetryInterval time.Duration
	// Timeout bounds one reconcile.
	Timeout time.Duration
	// MaxConcurrentReconciles is the number of objects of one kind
	// reconciled at once.
	MaxConcurrentReconciles int
	// BaseBackoff and MaxBackoff bound the exponential backoff of failing
	// reconciles.
	BaseBackoff, MaxBackoff time.Duration
	// ClusterName names this cluster in the owner mark of every cloud
	// resource, so that clusters sharing an account never take each other's
	// resources. registry.Setup defaults it to the UID of the kube-system
	// namespace.
	ClusterName string
}

func (o *Options) setDefaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollJitter <= 0 {
		o.PollJitter = defaultPollJitter
	}
	if o.PendingPollInterval <= 0 {
		o.PendingPollInterval = defaultPendingPollInterval
	}
	if o.BlockedRetryInterval <= 0 {
		o.BlockedRetryInterval = defaultBlockedRetryInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = defaultMaxConcurrentReconciles
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = defaultBaseBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
}
