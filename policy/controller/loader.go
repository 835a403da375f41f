package controller

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

// Loader marks the store ready once the reconciler has compiled every
// Guardrail that existed when the manager started, so that the webhook never
// admits a request judged by a partial set. It never writes the store
// itself: the reconciler is its only writer. It runs on every replica.
type Loader struct {
	Cache cache.Cache
	Store *guardrails.Store
	// Interval between checks; 50 ms when zero.
	Interval time.Duration
}

// NeedLeaderElection is false: every replica serves the webhook.
func (l *Loader) NeedLeaderElection() bool { return false }

// Start waits until every existing Guardrail was compiled, marks the store
// ready and returns.
func (l *Loader) Start(ctx context.Context) error {
	if !l.Cache.WaitForCacheSync(ctx) {
		return fmt.Errorf("load guardrails: the cache did not sync")
	}
	interval := l.Interval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	for {
		var list policyv1alpha1.GuardrailList
		if err := l.Cache.List(ctx, &list, &client.ListOptions{}); err != nil {
			return fmt.Errorf("load guardrails: %w", err)
		}
		pending := 0
		for i := range list.Items {
			g := &list.Items[i]
			if g.DeletionTimestamp == nil && !l.Store.WasAttempted(g.Name, guardrails.Attempt{UID: g.UID, Generation: g.Generation}) {
				pending++
			}
		}
		if pending == 0 {
			l.Store.MarkReady()
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
