package managed

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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
	// adoption is true when the configuration lets the object's namespace
	// adopt a cloud resource no object owns.
	adoption bool
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

// resolve finds the configuration mr refers to, checks that mr's namespace
// may use it as it is, and reads its credentials. A configuration the
// namespace may not use is a *refusal with reason ProviderConfigNotAllowed,
// returned before any Secret is read or cloud called.
func (p *ProviderConfigs) resolve(ctx context.Context, mr driver.Managed) (resolvedConfig, error) {
	ref := mr.ManagedSpec().ProviderConfigRef
	ns, err := p.namespace(ctx, mr.GetNamespace())
	if err != nil {
		return resolvedConfig{}, err
	}
	var (
		spec       stratusv1alpha1.ProviderConfigSpec
		key        string
		generation int64
		secretNN   types.NamespacedName
		adoption   bool
	)
	switch ref.Kind {
	case stratusv1alpha1.ProviderConfigKindCluster:
		var pc stratusv1alpha1.ClusterProviderConfig
		if err := p.client.Get(ctx, types.NamespacedName{Name: ref.Name}, &pc); err != nil {
			return resolvedConfig{}, fmt.Errorf("get ClusterProviderConfig %q: %w", ref.Name, err)
		}
		spec, key, generation = pc.Spec, "ClusterProviderConfig/"+pc.Name, pc.Generation
		allowed, err := admits(spec.AllowedNamespaces, stratusv1alpha1.NamespacesFromAll, ns)
		if err != nil {
			return resolvedConfig{}, refuse(stratusv1alpha1.ReasonProviderConfigNotAllowed, fmt.Errorf("ClusterProviderConfig %q: spec.allowedNamespaces: %w", ref.Name, err))
		}
		if !allowed {
			return resolvedConfig{}, refuse(stratusv1alpha1.ReasonProviderConfigNotAllowed, fmt.Errorf(
				"ClusterProviderConfig %q does not allow namespace %q (spec.allowedNamespaces): nothing was called in the cloud; ask the platform team to allow the namespace, or use another configuration",
				ref.Name, ns.Name))
		}
		if adoption, err = admits(spec.Adoption, stratusv1alpha1.NamespacesFromNone, ns); err != nil {
			return resolvedConfig{}, refuse(stratusv1alpha1.ReasonProviderConfigNotAllowed, fmt.Errorf("ClusterProviderConfig %q: spec.adoption: %w", ref.Name, err))
		}
		if r := spec.Credentials.SecretRef; r != nil {
			secretNN = types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
		}
	default:
		var pc stratusv1alpha1.ProviderConfig
		nn := types.NamespacedName{Namespace: mr.GetNamespace(), Name: ref.Name}
		if err := p.client.Get(ctx, nn, &pc); err != nil {
			return resolvedConfig{}, fmt.Errorf("get ProviderConfig %q in namespace %q: %w", ref.Name, mr.GetNamespace(), err)
		}
		spec, key, generation = pc.Spec, "ProviderConfig/"+nn.String(), pc.Generation
		if err := namespacedConfigAllowed(&pc, ns); err != nil {
			return resolvedConfig{}, refuse(stratusv1alpha1.ReasonProviderConfigNotAllowed, err)
		}
		// The namespace's own credentials reach only what it could reach
		// itself: adopting with them gives it nothing more. The operator's
		// own (Ambient) credentials never adopt through a namespace's
		// configuration.
		adoption = spec.Credentials.Source == stratusv1alpha1.CredentialsSourceSecret &&
			spec.Adoption != nil && spec.Adoption.From == stratusv1alpha1.NamespacesFromAll
		if r := spec.Credentials.SecretRef; r != nil {
			secretNN = types.NamespacedName{Namespace: pc.Namespace, Name: r.Name}
		}
	}

	confined := ref.Kind != stratusv1alpha1.ProviderConfigKindCluster && ns.Labels[stratusv1alpha1.LabelAllowCustomEndpoints] != "true"
	rc := resolvedConfig{Config: driver.Config{Spec: spec, Confined: confined}, key: key, version: fmt.Sprintf("%s@%d", key, generation), adoption: adoption}
	if spec.Credentials.Source == stratusv1alpha1.CredentialsSourceSecret && spec.Credentials.SecretRef != nil {
		nn := secretNN
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

// namespace returns the Namespace object of a managed resource, whose labels
// (the platform team's) say what its configurations may do.
func (p *ProviderConfigs) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	if err := p.client.Get(ctx, types.NamespacedName{Name: name}, &ns); err != nil {
		return nil, fmt.Errorf("get namespace %q: %w", name, err)
	}
	return &ns, nil
}

// admits reports whether policy (def when it is unset) admits ns.
func admits(policy *stratusv1alpha1.NamespacePolicy, def stratusv1alpha1.NamespaceFrom, ns *corev1.Namespace) (bool, error) {
	from := def
	if policy != nil {
		from = policy.From
	}
	switch from {
	case stratusv1alpha1.NamespacesFromAll:
		return true, nil
	case stratusv1alpha1.NamespacesFromSelector:
		if policy.Selector == nil {
			return false, nil
		}
		sel, err := metav1.LabelSelectorAsSelector(policy.Selector)
		if err != nil {
			return false, fmt.Errorf("invalid selector: %w", err)
		}
		return sel.Matches(labels.Set(ns.Labels)), nil
	default:
		return false, nil
	}
}

// namespacedConfigAllowed checks that a ProviderConfig uses only what its
// namespace is allowed: a Secret in its own namespace, and the operator's
// credentials or a place of its choosing to send credentials to only where
// the platform team labelled the namespace for it.
func namespacedConfigAllowed(pc *stratusv1alpha1.ProviderConfig, ns *corev1.Namespace) error {
	spec := pc.Spec
	name := fmt.Sprintf("ProviderConfig %s/%s", pc.Namespace, pc.Name)
	if r := spec.Credentials.SecretRef; r != nil && r.Namespace != "" && r.Namespace != pc.Namespace {
		return fmt.Errorf("%s names a Secret in namespace %q: a ProviderConfig reads Secrets only from its own namespace; use a ClusterProviderConfig for credentials kept elsewhere", name, r.Namespace)
	}
	labelled := func(label string) bool { return ns.Labels[label] == "true" }
	if spec.Credentials.Source == stratusv1alpha1.CredentialsSourceAmbient && !labelled(stratusv1alpha1.LabelAllowAmbientCredentials) {
		return fmt.Errorf("%s uses Ambient credentials, the operator's own identity, which a namespace's configuration may use only where the platform team labelled the namespace %s=true; use a ClusterProviderConfig, or credentials from a Secret in this namespace",
			name, stratusv1alpha1.LabelAllowAmbientCredentials)
	}
	var place string
	switch {
	case spec.Endpoint != "":
		place = "spec.endpoint"
	case spec.PostgreSQL != nil:
		place = "spec.postgresql.host"
	}
	if place != "" && !labelled(stratusv1alpha1.LabelAllowCustomEndpoints) {
		return fmt.Errorf("%s sets %s, which sends credentials to a place of its choosing: a namespace's configuration may do so only where the platform team labelled the namespace %s=true; use a ClusterProviderConfig",
			name, place, stratusv1alpha1.LabelAllowCustomEndpoints)
	}
	return nil
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
