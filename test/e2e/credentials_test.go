package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/localenv"
)

// TestCredentialsNeverLeak: no credential — the provider secrets, refused
// ones, or a database password the operator generated — appears in any
// object's status, any Event, or anything the manager logged.
func TestCredentialsNeverLeak(t *testing.T) {
	ns := h.Namespace(t, customEndpoints)
	const refused = "refused-secret-key-must-not-leak"
	h.Create(t, corev1Secret{ns: ns, name: "refused", data: map[string]string{"aws_access_key_id": "AKIAREFUSED", "aws_secret_access_key": refused}}.object())
	h.Create(t, &stratusv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "refused"},
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider: stratusv1alpha1.ProviderAWS, Region: "us-east-1", Endpoint: h.Env.S3.Endpoint,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret, SecretRef: &stratusv1alpha1.SecretReference{Name: "refused"}},
		},
	})
	denied := newBucket(ns, "denied", func(b *storagev1alpha1.Bucket) {
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindNamespaced, Name: "refused"}
	})
	h.Create(t, denied)
	ok := newBucket(ns, "fine")
	h.Create(t, ok)
	onGCP := newBucket(ns, "fine-gcp", func(b *storagev1alpha1.Bucket) {
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.GCPProviderConfig}
	})
	h.Create(t, onGCP)
	db := newDatabase(ns, "secretive", func(d *databasev1alpha1.Database) {
		d.Spec.WriteConnectionSecretToRef = &stratusv1alpha1.LocalSecretReference{Name: "secretive-db"}
	})
	h.Create(t, db)
	h.WaitReady(t, ok)
	h.WaitReady(t, onGCP)
	h.WaitReady(t, db)
	h.WaitFor(t, denied, "refused credentials reported", func() error {
		return harness.ConditionIs(denied, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonBadCredentials)
	})

	secrets := map[string]string{
		"refused AWS secret key":      refused,
		"S3 secret key":               h.Env.S3.SecretKey,
		"PostgreSQL admin password":   h.Env.Postgres.Password,
		"generated database password": string(secretData(t, ns, "secretive-db")["password"]),
		"Google service-account key":  privateKeyBody(t, h.Env.GCS.ServiceAccountJSON()),
	}
	places := map[string]string{"manager logs": h.Logs()}
	var events eventsv1.EventList
	if err := h.Client.List(context.Background(), &events); err != nil {
		t.Fatal(err)
	}
	places["events"] = mustJSON(t, events.Items)
	var buckets storagev1alpha1.BucketList
	var databases databasev1alpha1.DatabaseList
	if err := h.Client.List(context.Background(), &buckets); err != nil {
		t.Fatal(err)
	}
	if err := h.Client.List(context.Background(), &databases); err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets.Items {
		places["status of bucket "+b.Namespace+"/"+b.Name] = mustJSON(t, b.Status)
	}
	for _, d := range databases.Items {
		places["status of database "+d.Namespace+"/"+d.Name] = mustJSON(t, d.Status)
	}
	if len(places["manager logs"]) == 0 {
		t.Fatal("the manager logged nothing: the check would prove nothing")
	}
	for what, secret := range secrets {
		if len(secret) < 8 {
			t.Fatalf("%s is %q: too short to search for", what, secret)
		}
		for where, text := range places {
			if strings.Contains(text, secret) {
				t.Errorf("the %s appears in the %s", what, where)
			}
		}
	}
}

// privateKeyBody returns a distinctive line of a service-account key's
// private key.
func privateKeyBody(t *testing.T, key []byte) string {
	t.Helper()
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &sa); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(sa.PrivateKey, "\n")
	if len(lines) < 3 {
		t.Fatal("the service-account key has no PEM body")
	}
	return lines[1]
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
