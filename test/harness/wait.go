package harness

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// Managed is a managed resource as tests see it.
type Managed interface {
	client.Object
	ManagedSpec() *stratusv1alpha1.ManagedResourceSpec
	ManagedStatus() *stratusv1alpha1.ManagedResourceStatus
}

// Namespace creates a namespace named after the test, with the labels
// given (the platform team's: localenv.AdoptionLabel,
// stratusv1alpha1.LabelAllowCustomEndpoints, ...).
func (h *Harness) Namespace(t testing.TB, labels ...map[string]string) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	all := map[string]string{}
	for _, l := range labels {
		maps.Copy(all, l)
	}
	if err := h.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: all}}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// Eventually calls check until it returns nil, or fails the test after
// Patience.
func Eventually(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: still not true after %s: %v", what, Patience, err)
}

// Create creates obj.
func (h *Harness) Create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := h.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

// Delete deletes obj.
func (h *Harness) Delete(t testing.TB, obj client.Object) {
	t.Helper()
	if err := h.Client.Delete(context.Background(), obj); err != nil {
		t.Fatalf("delete %s: %v", obj.GetName(), err)
	}
}

// Update applies mutate to the latest version of obj, retrying conflicts.
func Update[T client.Object](t testing.TB, h *Harness, obj T, mutate func(T)) {
	t.Helper()
	Eventually(t, "update "+obj.GetName(), func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return h.Client.Update(context.Background(), obj)
	})
}

// WaitFor gets obj until check passes.
func (h *Harness) WaitFor(t testing.TB, obj client.Object, what string, check func() error) {
	t.Helper()
	Eventually(t, what, func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		return check()
	})
}

// WaitReady waits until obj is Ready and Synced.
func (h *Harness) WaitReady(t testing.TB, obj Managed) {
	t.Helper()
	h.WaitFor(t, obj, obj.GetName()+" Ready", func() error {
		if err := ConditionIs(obj, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, ""); err != nil {
			return err
		}
		return ConditionIs(obj, stratusv1alpha1.ConditionReady, metav1.ConditionTrue, stratusv1alpha1.ReasonAvailable)
	})
}

// WaitGone waits until obj no longer exists.
func (h *Harness) WaitGone(t testing.TB, obj Managed) {
	t.Helper()
	Eventually(t, obj.GetName()+" deleted", func() error {
		err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("still exists, finalizers %v, conditions %v", obj.GetFinalizers(), obj.ManagedStatus().Conditions)
	})
}

// ConditionIs checks a condition of a managed resource; an empty reason
// matches any.
func ConditionIs(obj Managed, typ string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(obj.ManagedStatus().Conditions, typ)
	if c == nil {
		return fmt.Errorf("no %s condition yet; conditions: %+v", typ, obj.ManagedStatus().Conditions)
	}
	if c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Errorf("%s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	return nil
}

// ConditionMessage returns the message of a condition, "" when absent.
func ConditionMessage(obj Managed, typ string) string {
	if c := meta.FindStatusCondition(obj.ManagedStatus().Conditions, typ); c != nil {
		return c.Message
	}
	return ""
}

// Events returns the Events about obj, of the given kind.
func (h *Harness) Events(t testing.TB, obj client.Object, kind string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := h.Client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatalf("list events: %v", err)
	}
	var events []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Regarding.Kind == kind {
			events = append(events, e)
		}
	}
	return events
}

// EventReasons returns the reasons of the Events about obj.
func (h *Harness) EventReasons(t testing.TB, obj client.Object, kind string) []string {
	t.Helper()
	var reasons []string
	for _, e := range h.Events(t, obj, kind) {
		reasons = append(reasons, e.Reason)
	}
	return reasons
}

// WaitEvent waits for an Event with reason about obj and returns its note.
func (h *Harness) WaitEvent(t testing.TB, obj client.Object, kind, reason string) string {
	t.Helper()
	var note string
	Eventually(t, "event "+reason+" on "+obj.GetName(), func() error {
		for _, e := range h.Events(t, obj, kind) {
			if e.Reason == reason {
				note = e.Note
				return nil
			}
		}
		return fmt.Errorf("no %s event yet", reason)
	})
	return note
}
