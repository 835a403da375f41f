package options

import (
	"net/http"
	"path"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Cache returns the options of the manager's cache (see Cache) for these
// flags: given a webhook configuration to keep (--webhook-configuration),
// ValidatingWebhookConfigurations are cached by that name only (a
// metadata.name field selector), so that RBAC can grant that one
// configuration by resourceNames.
func (o *Webhook) Cache() cache.Options {
	opts := Cache()
	if o.Configuration != "" {
		opts.ByObject = map[client.Object]cache.ByObject{
			&admissionregistrationv1.ValidatingWebhookConfiguration{}: {Field: fields.OneTermEqualSelector("metadata.name", o.Configuration)},
		}
	}
	return opts
}

// namedCollection is a collection whose lists and watches are narrowed to
// one object.
type namedCollection struct {
	// path is the collection's URL path, such as
	// /api/v1/namespaces/ns/secrets.
	path string
	// name is the one object to list and watch.
	name string
}

// nameScoped returns mgr with a configuration whose list and watch
// requests of the collections carry a metadata.name field selector for
// their one object. cert-controller's rotator builds its own cache from
// the manager's configuration, of every Secret of the namespace and every
// ValidatingWebhookConfiguration, and has no option to narrow it; narrowed
// this way, RBAC can grant it the certificate Secret and the webhook
// configuration by resourceNames, as the API server authorizes a list or
// watch with such a selector as a request for that name.
func nameScoped(mgr ctrl.Manager, collections ...namedCollection) ctrl.Manager {
	cfg := rest.CopyConfig(mgr.GetConfig())
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &nameScopedTransport{next: rt, collections: collections}
	})
	return &nameScopedManager{Manager: mgr, config: cfg}
}

// nameScopedManager is a manager with another configuration.
type nameScopedManager struct {
	ctrl.Manager
	config *rest.Config
}

// GetConfig returns the narrowed configuration.
func (m *nameScopedManager) GetConfig() *rest.Config { return m.config }

// nameScopedTransport adds the field selector to the collections' GET
// requests (lists and watches); requests for one object, and every other
// request, pass unchanged.
type nameScopedTransport struct {
	next        http.RoundTripper
	collections []namedCollection
}

// RoundTrip narrows the request if it lists or watches a collection.
func (t *nameScopedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return t.next.RoundTrip(req)
	}
	p := path.Clean(req.URL.Path)
	for _, c := range t.collections {
		// A suffix, since the configuration's host may have a path
		// (an API server behind a proxy).
		if !strings.HasSuffix(p, c.path) {
			continue
		}
		req = req.Clone(req.Context())
		q := req.URL.Query()
		selector := fields.OneTermEqualSelector("metadata.name", c.name).String()
		if s := q.Get("fieldSelector"); s != "" {
			selector = s + "," + selector
		}
		q.Set("fieldSelector", selector)
		req.URL.RawQuery = q.Encode()
		break
	}
	return t.next.RoundTrip(req)
}
