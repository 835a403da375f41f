package guardrails

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/policy/library"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/localenv"
)

var awsProvider = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.AWSProviderConfig}

// guardrail returns a Guardrail running a library policy on the managed and
// composite kinds of namespace ns only, so tests do not see each other.
func guardrail(t *testing.T, name, policy, ns string, action policyv1alpha1.EnforcementAction, params map[string]any) *policyv1alpha1.Guardrail {
	t.Helper()
	e, ok := library.Get(policy)
	if !ok {
		t.Fatalf("no library guardrail %q", policy)
	}
	g := &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego: e.Module,
			Match: policyv1alpha1.Match{
				Kinds:      []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}},
				Namespaces: []string{ns},
			},
			EnforcementAction: action,
		},
	}
	if params != nil {
		raw, err := json.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		g.Spec.Parameters = &runtime.RawExtension{Raw: raw}
	}
	return g
}

// enforce creates g, removes it when the test ends, and waits until it is
// Compiled.
func enforce(t *testing.T, g *policyv1alpha1.Guardrail) {
	t.Helper()
	h.Create(t, g)
	t.Cleanup(func() { _ = h.Client.Delete(context.Background(), g) })
	waitEnforced(t, g)
}

// waitEnforced waits until g is compiled and loaded by this replica's
// webhook.
func waitEnforced(t *testing.T, g *policyv1alpha1.Guardrail) {
	t.Helper()
	h.WaitFor(t, g, "Compiled", func() error {
		c := meta.FindStatusCondition(g.Status.Conditions, "Compiled")
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != g.Generation {
			return fmt.Errorf("Compiled is %+v", c)
		}
		return nil
	})
	// The webhook of this replica loads it at the same time as the status
	// is written; wait for the store too.
	harness.Eventually(t, g.Name+" loaded", func() error {
		if e, ok := h.Guardrails.Get(g.Name); !ok || e.Generation != g.Generation {
			return fmt.Errorf("not loaded")
		}
		return nil
	})
}

// bucket returns a Bucket on the local AWS.
func bucket(ns, name string, mutate ...func(*storagev1alpha1.Bucket)) *storagev1alpha1.Bucket {
	b := &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: storagev1alpha1.BucketSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: awsProvider},
		},
	}
	for _, m := range mutate {
		m(b)
	}
	return b
}

func public(b *storagev1alpha1.Bucket) { b.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed }

// s3BucketExists reports whether a bucket exists in the S3 server.
func s3BucketExists(name string) bool {
	_, err := s3c.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

func bucketName(b *storagev1alpha1.Bucket) string { return registry.BucketName(b.Namespace, b.Name) }

// warningClient is a client that keeps the warnings the API server returns.
type warningClient struct {
	client.Client
	mu       sync.Mutex
	warnings []string
}

func newWarningClient(t *testing.T) *warningClient {
	t.Helper()
	wc := &warningClient{}
	cfg := rest.CopyConfig(h.Env.ControlPlane.Config)
	cfg.WarningHandlerWithContext = wc
	c, err := client.New(cfg, client.Options{Scheme: h.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	wc.Client = c
	return wc
}

// HandleWarningHeaderWithContext keeps a warning.
func (wc *warningClient) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.warnings = append(wc.warnings, text)
}

func (wc *warningClient) Warnings() []string {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return append([]string(nil), wc.warnings...)
}
