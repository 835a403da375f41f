package harness

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TenantRules are the rights a platform team grants an application team in
// its own namespace: its managed resources, provider configurations and
// Secrets, and reading Events. Nothing cluster-scoped, no status
// subresource, nothing in another namespace.
var TenantRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"storage.stratus.dev"}, Resources: []string{"buckets"}, Verbs: []string{"*"}},
	{APIGroups: []string{"database.stratus.dev"}, Resources: []string{"databases"}, Verbs: []string{"*"}},
	{APIGroups: []string{"stratus.dev"}, Resources: []string{"providerconfigs"}, Verbs: []string{"*"}},
	{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"*"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
}

// NamespaceNamed creates a namespace with the given name and labels.
func (h *Harness) NamespaceNamed(t testing.TB, name string, labels map[string]string) string {
	t.Helper()
	if err := h.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// Tenant grants user TenantRules in namespace ns with a Role and a
// RoleBinding, and returns a client that acts as that user (impersonation):
// what it may do is the API server's own RBAC decision.
func (h *Harness) Tenant(t testing.TB, ns, user string) client.Client {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"}, Rules: TenantRules}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-" + strings.ReplaceAll(user, ":", "-")},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := h.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("grant %s its namespace %s: %v", user, ns, err)
		}
	}
	cfg := rest.CopyConfig(h.Env.ControlPlane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: h.Scheme})
	if err != nil {
		t.Fatalf("client for %s: %v", user, err)
	}
	return c
}
