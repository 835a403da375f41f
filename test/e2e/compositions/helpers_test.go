package compositions

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	"github.com/stratus-operator/stratus/test/harness"
)

const examplesDir = "../../../compositions/examples"

// loadDefinition reads an example's definition.
func loadDefinition(t *testing.T, example string) *v1alpha1.CompositeDefinition {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, example, "definition.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := &v1alpha1.CompositeDefinition{}
	if err := yaml.Unmarshal(b, def); err != nil {
		t.Fatalf("parse the definition of %s: %v", example, err)
	}
	return def
}

// loadInstance reads an example's instance and places it in ns.
func loadInstance(t *testing.T, example, ns string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, example, "instance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatalf("parse the instance of %s: %v", example, err)
	}
	u.SetNamespace(ns)
	return u
}

// applyDefinition creates def, or leaves it when another test did.
func applyDefinition(t *testing.T, def *v1alpha1.CompositeDefinition) {
	t.Helper()
	if err := h.Client.Create(context.Background(), def); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create definition %s: %v", def.Name, err)
	}
}

// waitServed waits until def is Valid and Established, and returns how
// long it took.
func waitServed(t *testing.T, def *v1alpha1.CompositeDefinition) time.Duration {
	t.Helper()
	start := time.Now()
	harness.Eventually(t, def.Name+" Valid and Established", func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(def), def); err != nil {
			return err
		}
		for _, typ := range []string{"Valid", "Established"} {
			c := meta.FindStatusCondition(def.Status.Conditions, typ)
			if c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s is %+v", typ, c)
			}
		}
		return nil
	})
	return time.Since(start)
}

// waitCompositeReady waits until a composite instance is Ready.
func waitCompositeReady(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	harness.Eventually(t, u.GetName()+" Ready", func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		return conditionTrue(u, "Ready")
	})
}

func conditionTrue(u *unstructured.Unstructured, typ string) error {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			if m["status"] == "True" {
				return nil
			}
			return fmt.Errorf("%s is %v: %v", typ, m["status"], m["message"])
		}
	}
	return fmt.Errorf("no %s condition yet; status %v", typ, u.Object["status"])
}

// exists reports whether obj exists, filling it in.
func exists(t *testing.T, obj client.Object) bool {
	t.Helper()
	err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatalf("get %s: %v", obj.GetName(), err)
	}
	return true
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	harness.Eventually(t, obj.GetName()+" deleted", func() error {
		if exists(t, obj) {
			return fmt.Errorf("still exists, finalizers %v", obj.GetFinalizers())
		}
		return nil
	})
}

// bucketExists reports whether a bucket exists in the S3 server.
func bucketExists(name string) bool {
	_, err := s3c.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

// crdGVK is the kind of CustomResourceDefinitions, read as unstructured.
var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}
