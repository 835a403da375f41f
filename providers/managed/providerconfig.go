package managed

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Defaults of a provider configuration's rate limit, when it sets none.
const (
	defaultRateQPS   = 10
	defaultRateBurst = 20
	// credentialsTTL bounds how long a credentials Secret is cached before
	// it is read again, so that rotated credentials are picked up.
	credentialsTTL = 5 * time.Minute
)

// resolvedConfig is a provider configuration ready to connect with.
type resolvedConfig struct {
	driver.Config
	// key identifies the configuration object.
	key string
	// version changes whenever the configuration or its Secret changes.
	version string
	// limiter bounds the cloud operations made with this configuration.
	limiter *rate.Limiter
}

type cachedSecret struct {
	data            map[string][]byte
	resourceVersion string
	fetched         time.Time
}

// ProviderConfigs resolves provider configurations for managed resources of
// every kind, caching credentials briefly and keeping one rate limiter per
// configuration, shared by all kinds.
type ProviderConfigs struct {
	client client.Client // cached reads of ProviderConfigs
	reader client.Reader // uncached reads of credentials Secrets
	now    func() time.Time

	mu       sync.Mutex
	secrets  map[types.NamespacedName]cachedSecret
	limiters map[string]*rate.Limiter
}

// NewProviderConfigs returns a resolver that reads configurations through c
// and credentials Secrets through reader, which should not cache: the
// operator must not watch every Secret in the cluster.
func NewProviderConfigs(c client.Client, reader client.Reader) *ProviderConfigs {
	return &ProviderConfigs{
		client:   c,
		reader:   reader,
		now:      time.Now,
		secrets:  map[types.NamespacedName]cachedSecret{},
		limiters: map[string]*rate.Limiter{},
	}
}

// resolve finds the configuration mr refers to and reads its credentials.
func (p *ProviderConfigs) resolve(ctx context.Context, mr driver.Managed) (resolvedConfig, error) {
	ref := mr.ManagedSpec().ProviderConfigRef
	var (
		spec            stratusv1alpha1.ProviderConfigSpec
		key             string
		generation      int64
		secretNamespace string
	)
	switch ref.Kind {
	case stratusv1alpha1.ProviderConfigKindCluster:
		var pc stratusv1alpha1.ClusterProviderConfig
		if err := p.client.Get(ctx, types.NamespacedName{Name: ref.Name}, &pc); err != nil {
			return resolvedConfig{}, fmt.Errorf("get ClusterProviderConfig %q: %w", ref.Name, err)
		}
		spec, key, generation = pc.Spec, "ClusterProviderConfig/"+pc.Name, pc.Generation
	default:
		var pc stratusv1alpha1.ProviderConfig
		nn := types.NamespacedName{Namespace: mr.GetNamespace(), Name: ref.Name}
		if err := p.client.Get(ctx, nn, &pc); err != nil {
			return resolvedConfig{}, fmt.Errorf("get ProviderConfig %q in namespace %q: %w", ref.Name, mr.GetNamespace(), err)
		}
		spec, key, generation = pc.Spec, "ProviderConfig/"+nn.String(), pc.Generation
		secretNamespace = pc.Namespace
	}

	rc := resolvedConfig{Config: driver.Config{Spec: spec}, key: key, version: fmt.Sprintf("%s@%d", key, generation)}
	if spec.Credentials.Source == stratusv1alpha1.CredentialsSourceSecret && spec.Credentials.SecretRef != nil {
		nn := types.NamespacedName{Namespace: spec.Credentials.SecretRef.Namespace, Name: spec.Credentials.SecretRef.Name}
		if nn.Namespace == "" {
			nn.Namespace = secretNamespace
		}
		s, err := p.credentials(ctx, nn)
		if err != nil {
			return resolvedConfig{}, fmt.Errorf("read credentials of %s: %w", key, err)
		}
		rc.Credentials = s.data
		rc.version += "/" + s.resourceVersion
	}
	rc.limiter = p.limiter(key, spec.RateLimit)
	return rc, nil
}

// credentials returns the data of a credentials Secret, cached for
// credentialsTTL.
func (p *ProviderConfigs) credentials(ctx context.Context, nn types.NamespacedName) (cachedSecret, error) {
	p.mu.Lock()
	s, ok := p.secrets[nn]
	p.mu.Unlock()
	if ok && p.now().Sub(s.fetched) < credentialsTTL {
		return s, nil
	}
	var secret corev1.Secret
	if err := p.reader.Get(ctx, nn, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return cachedSecret{}, fmt.Errorf("secret %s not found", nn)
		}
		return cachedSecret{}, fmt.Errorf("get secret %s: %w", nn, err)
	}
	s = cachedSecret{data: secret.Data, resourceVersion: secret.ResourceVersion, fetched: p.now()}
	p.mu.Lock()
	p.secrets[nn] = s
	p.mu.Unlock()
	return s, nil
}

// forgetCredentials drops cached credentials so the next resolve reads the
// Secret again, after the provider refused them.
func (p *ProviderConfigs) forgetCredentials() {
	p.mu.Lock()
	clear(p.secrets)
	p.mu.Unlock()
}

// limiter returns the rate limiter of a configuration, adjusting it when the
// configured limit changed.
func (p *ProviderConfigs) limiter(key string, rl *stratusv1alpha1.RateLimit) *rate.Limiter {
	qps, burst := rate.Limit(defaultRateQPS), defaultRateBurst
	if rl != nil {
		if rl.QPS > 0 {
			qps = rate.Limit(rl.QPS)
		}
		if rl.Burst > 0 {
			burst = int(rl.Burst)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.limiters[key]
	if !ok {
		l = rate.NewLimiter(qps, burst)
		p.limiters[key] = l
		return l
	}
	if l.Limit() != qps {
		l.SetLimit(qps)
	}
	if l.Burst() != burst {
		l.SetBurst(burst)
	}
	return l
}
