package e2e

import (
	"context"
	"github.com/stratus-operator/stratus/test/harness"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// corev1Secret builds a Secret for a test.
type corev1Secret struct {
	ns, name string
	data     map[string]string
}

func (s corev1Secret) object() *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.name}, StringData: s.data}
}

func getSecret(ns, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	err := h.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &s)
	return &s, err
}

// secretData waits for a Secret and returns its data.
func secretData(t *testing.T, ns, name string) map[string][]byte {
	t.Helper()
	var s *corev1.Secret
	harness.Eventually(t, "secret "+name, func() error {
		var err error
		s, err = getSecret(ns, name)
		return err
	})
	return s.Data
}

func keys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}
