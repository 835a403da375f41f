package compositions

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/test/harness"
)

// TestStaticWebsite: a second definition applied while the manager runs
// is served without a restart and its instance becomes Ready; turning
// logging off deletes the logs bucket, which is no longer composed.
func TestStaticWebsite(t *testing.T) {
	def := loadDefinition(t, "static-website")
	applyDefinition(t, def)
	waitServed(t, def)

	ns := h.Namespace(t)
	site := loadInstance(t, "static-website", ns)
	if err := h.Client.Create(context.Background(), site); err != nil {
		t.Fatalf("create StaticWebsite: %v", err)
	}
	content := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-content"}}
	logs := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-logs"}}
	h.WaitReady(t, content)
	h.WaitReady(t, logs)
	waitCompositeReady(t, site)
	if got, _, _ := unstructured.NestedString(site.Object, "status", "logsBucket"); got != logs.Status.AtProvider.Name {
		t.Errorf("status.logsBucket = %q, want %q", got, logs.Status.AtProvider.Name)
	}

	t.Run("DefinitionChangeRollsOut", func(t *testing.T) {
		harness.Eventually(t, "change the definition", func() error {
			if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(def), def); err != nil {
				return err
			}
			var tmpl map[string]any
			if err := json.Unmarshal(def.Spec.Resources[0].Template.Raw, &tmpl); err != nil {
				return err
			}
			if err := unstructured.SetNestedField(tmpl, "site-content", "spec", "labels", "purpose"); err != nil {
				return err
			}
			raw, err := json.Marshal(tmpl)
			if err != nil {
				return err
			}
			def.Spec.Resources[0].Template.Raw = raw
			return h.Client.Update(context.Background(), def)
		})
		h.WaitFor(t, content, "content bucket relabeled", func() error {
			if got := content.Spec.Labels["purpose"]; got != "site-content" {
				return fmt.Errorf("label purpose is %q", got)
			}
			return nil
		})
	})

	t.Run("EditedChildRestored", func(t *testing.T) {
		// A composed resource changed behind the composite's back no longer
		// holds its rendered fields: the composite applies it again.
		harness.Eventually(t, "edit the content bucket", func() error {
			if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(content), content); err != nil {
				return err
			}
			content.Spec.Labels["purpose"] = "hand-edited"
			return h.Client.Update(context.Background(), content)
		})
		h.WaitFor(t, content, "content bucket label restored", func() error {
			if got := content.Spec.Labels["purpose"]; got != "site-content" {
				return fmt.Errorf("label purpose is %q", got)
			}
			return nil
		})
	})

	t.Run("ExcludeLogs", func(t *testing.T) {
		harness.Eventually(t, "turn logging off", func() error {
			if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(site), site); err != nil {
				return err
			}
			if err := unstructured.SetNestedField(site.Object, false, "spec", "logging", "enabled"); err != nil {
				return err
			}
			return h.Client.Update(context.Background(), site)
		})
		waitGone(t, logs)
		if !exists(t, content) {
			t.Errorf("the content bucket was deleted")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if err := h.Client.Delete(context.Background(), site); err != nil {
			t.Fatalf("delete StaticWebsite: %v", err)
		}
		waitGone(t, site)
		waitGone(t, content)
	})
}
