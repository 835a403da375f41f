package managed

import (
	"bytes"
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stratus-operator/stratus/providers/driver"
)

// connectionSecretSuffix names the default connection Secret of a kind whose
// driver generates credentials, when the object names none.
const connectionSecretSuffix = "-connection"

// connectionSecrets reads and writes the connection Secrets of one kind.
type connectionSecrets struct {
	client client.Client // writes
	reader client.Reader // uncached reads: Secrets are not watched
	gvk    schema.GroupVersionKind
}

// name returns the connection Secret of mr, or "" when it has none.
// generates says whether the driver generates credentials that need one.
func (c connectionSecrets) name(mr driver.Managed, generates bool) string {
	if ref := mr.ManagedSpec().WriteConnectionSecretToRef; ref != nil {
		return ref.Name
	}
	if generates {
		return mr.GetName() + connectionSecretSuffix
	}
	return ""
}

// get returns the Secret and its data, or nil when it does not exist. A
// Secret that exists but is not controlled by mr is refused, so the operator
// never overwrites a Secret it does not own.
func (c connectionSecrets) get(ctx context.Context, mr driver.Managed, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	err := c.reader.Get(ctx, types.NamespacedName{Namespace: mr.GetNamespace(), Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get connection secret %q: %w", name, err)
	}
	if !metav1.IsControlledBy(&s, mr) {
		return nil, driver.Terminalf("secret %q already exists and is not managed by this %s: choose another spec.writeConnectionSecretToRef.name", name, c.gvk.Kind)
	}
	return &s, nil
}

// read returns the data of mr's connection Secret (nil when there is none).
func (c connectionSecrets) read(ctx context.Context, mr driver.Managed, name string) (driver.ConnectionDetails, error) {
	if name == "" {
		return nil, nil
	}
	s, err := c.get(ctx, mr, name)
	if err != nil || s == nil {
		return nil, err
	}
	return s.Data, nil
}

// write merges details into mr's connection Secret, creating it if needed,
// and writes only when something changed. It returns the merged data.
func (c connectionSecrets) write(ctx context.Context, mr driver.Managed, name string, details driver.ConnectionDetails) (driver.ConnectionDetails, error) {
	if name == "" || len(details) == 0 {
		return details, nil
	}
	s, err := c.get(ctx, mr, name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: mr.GetNamespace(), Name: name},
			Type:       corev1.SecretTypeOpaque,
			Data:       maps.Clone(details),
		}
		if err := controllerutil.SetControllerReference(mr, s, c.client.Scheme()); err != nil {
			return nil, fmt.Errorf("own connection secret %q: %w", name, err)
		}
		if err := c.client.Create(ctx, s); err != nil {
			return nil, fmt.Errorf("create connection secret %q: %w", name, err)
		}
		return s.Data, nil
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	changed := false
	for k, v := range details {
		if old, ok := s.Data[k]; !ok || !bytes.Equal(old, v) {
			s.Data[k] = v
			changed = true
		}
	}
	if changed {
		if err := c.client.Update(ctx, s); err != nil {
			return nil, fmt.Errorf("update connection secret %q: %w", name, err)
		}
	}
	return s.Data, nil
}

// release deletes mr's connection Secret when the cloud resource was
// deleted, or, when it was orphaned, keeps it and drops the owner reference
// so that garbage collection does not take the only copy of its credentials.
func (c connectionSecrets) release(ctx context.Context, mr driver.Managed, name string, orphaned bool) error {
	if name == "" {
		return nil
	}
	s, err := c.get(ctx, mr, name)
	if err != nil || s == nil {
		if driver.IsTerminal(err) { // not ours: leave it alone
			return nil
		}
		return err
	}
	if !orphaned {
		if err := c.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete connection secret %q: %w", name, err)
		}
		return nil
	}
	if err := controllerutil.RemoveControllerReference(mr, s, c.client.Scheme()); err != nil {
		return fmt.Errorf("release connection secret %q: %w", name, err)
	}
	if err := c.client.Update(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release connection secret %q: %w", name, err)
	}
	return nil
}
