package controller

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

// Loader fills the store with every Guardrail once the cache has synced and
// then marks it ready, so that the webhook never admits a request judged by
// a partial set. It runs on every replica.
type Loader struct {
	Cache cache.Cache
	Store *guardrails.Store
}

// NeedLeaderElection is false: every replica serves the webhook.
func (l *Loader) NeedLeaderElection() bool { return false }

// Start loads the Guardrails and returns.
func (l *Loader) Start(ctx context.Context) error {
	if !l.Cache.WaitForCacheSync(ctx) {
		return fmt.Errorf("load guardrails: the cache did not sync")
	}
	var list policyv1alpha1.GuardrailList
	if err := l.Cache.List(ctx, &list, &client.ListOptions{}); err != nil {
		return fmt.Errorf("load guardrails: %w", err)
	}
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp == nil {
			// A Guardrail that does not compile is reported by the
			// reconciler.
			_, _ = Load(l.Store, &list.Items[i])
		}
	}
	l.Store.MarkReady()
	return nil
}
