package guardrails

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/test/harness"
)

const examplesDir = "../../../compositions/examples"

// A StaticWebsite would create a public bucket: with buckets-not-public
// enforced, the composite itself is denied up front, the message leads from
// the composite to the child, and no child is created.
func TestCompositeDeniedByItsChild(t *testing.T) {
	ns := h.Namespace(t)
	def := &compositionsv1alpha1.CompositeDefinition{}
	readYAML(t, filepath.Join(examplesDir, "static-website", "definition.yaml"), def)
	h.Create(t, def)
	h.WaitFor(t, def, "Valid and Established", func() error {
		for _, typ := range []string{"Valid", "Established"} {
			if c := meta.FindStatusCondition(def.Status.Conditions, typ); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s is %+v", typ, c)
			}
		}
		return nil
	})
	// The operator adds the composite kind to the webhook's rules.
	harness.Eventually(t, "webhook rules cover staticwebsites", func() error {
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := h.Client.Get(context.Background(), client.ObjectKey{Name: policysetup.DefaultWebhookConfiguration}, vwc); err != nil {
			return err
		}
		for _, w := range vwc.Webhooks {
			if w.Name != policysetup.GuardrailWebhook {
				continue
			}
			for _, r := range w.Rules {
				if slices.Contains(r.APIGroups, "platform.example.com") && slices.Contains(r.Resources, "staticwebsites") {
					return nil
				}
			}
			return fmt.Errorf("rules %+v", w.Rules)
		}
		return fmt.Errorf("no webhook %s", policysetup.GuardrailWebhook)
	})
	enforce(t, guardrail(t, "no-public-sites-"+ns, "buckets-not-public", ns, policyv1alpha1.EnforcementDeny, nil))

	site := &unstructured.Unstructured{}
	readYAML(t, filepath.Join(examplesDir, "static-website", "instance.yaml"), &site.Object)
	site.SetNamespace(ns)
	err := h.Client.Create(context.Background(), site)
	if err == nil {
		t.Fatal("a StaticWebsite that would create a public bucket was admitted")
	}
	t.Logf("denial: %v", err)
	want := fmt.Sprintf("StaticWebsite %s/docs → resources.content: [no-public-sites-%s] Bucket %s/docs-content: spec.publicAccess must be Blocked", ns, ns, ns)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("the denial says %q, want it to contain %q", err, want)
	}
	var buckets storagev1alpha1.BucketList
	if err := h.Client.List(context.Background(), &buckets, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(buckets.Items) != 0 {
		t.Errorf("%d buckets were created for a denied composite", len(buckets.Items))
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}
