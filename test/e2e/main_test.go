package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/managed"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/localenv"
)

// Intervals of the manager under test: short, so that drift and blocked
// deletions are retried within a test's patience.
const (
	testPollInterval = 2 * time.Second
	patience         = 60 * time.Second
)

var (
	env    *localenv.Env
	k8s    client.Client
	scheme *runtime.Scheme
	s3c    *s3.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel()), zap.StacktraceLevel(zapcore.PanicLevel)))

	var err error
	if env, err = localenv.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "start local environment:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop local environment:", err)
		}
	}()
	if scheme, err = newScheme(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = env.NewClient(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := env.Install(ctx, k8s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s3c = newS3Client(env.S3.Endpoint, env.S3.AccessKey, env.S3.SecretKey)

	mgr, err := ctrl.NewManager(env.ControlPlane.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "create manager:", err)
		return 1
	}
	if err := registry.Setup(mgr, registry.DefaultDrivers(), managed.Options{
		PollInterval:         testPollInterval,
		PendingPollInterval:  time.Second,
		BlockedRetryInterval: testPollInterval,
		BaseBackoff:          100 * time.Millisecond,
		MaxBackoff:           5 * time.Second,
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

// zapLevel is quiet unless STRATUS_TEST_VERBOSE is set.
func zapLevel() zapcore.Level {
	if os.Getenv("STRATUS_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, stratusv1alpha1.AddToScheme, storagev1alpha1.AddToScheme, databasev1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

func newS3Client(endpoint, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
}

// namespace creates a namespace of the test's own.
func namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// eventually calls check until it returns nil or patience runs out.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: still not true after %s: %v", what, patience, err)
}

// conditionIs checks a condition of a managed resource.
func conditionIs(obj client.Object, typ string, status metav1.ConditionStatus, reason string) error {
	mr, ok := obj.(interface {
		ManagedStatus() *stratusv1alpha1.ManagedResourceStatus
	})
	if !ok {
		return fmt.Errorf("%T is not a managed resource", obj)
	}
	c := meta.FindStatusCondition(mr.ManagedStatus().Conditions, typ)
	if c == nil {
		return fmt.Errorf("no %s condition yet; conditions: %+v", typ, mr.ManagedStatus().Conditions)
	}
	if c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Errorf("%s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	return nil
}

// waitFor gets obj until check passes.
func waitFor(t *testing.T, obj client.Object, what string, check func() error) {
	t.Helper()
	eventually(t, what, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		return check()
	})
}

// waitReady waits until obj is Ready and Synced.
func waitReady(t *testing.T, obj client.Object) {
	t.Helper()
	waitFor(t, obj, obj.GetName()+" Ready", func() error {
		if err := conditionIs(obj, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, ""); err != nil {
			return err
		}
		return conditionIs(obj, stratusv1alpha1.ConditionReady, metav1.ConditionTrue, stratusv1alpha1.ReasonAvailable)
	})
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, obj.GetName()+" deleted", func() error {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if err == nil {
			return fmt.Errorf("still exists, finalizers %v, conditions %v", obj.GetFinalizers(), statusConditions(obj))
		}
		return client.IgnoreNotFound(err)
	})
}

func statusConditions(obj client.Object) []metav1.Condition {
	if mr, ok := obj.(interface {
		ManagedStatus() *stratusv1alpha1.ManagedResourceStatus
	}); ok {
		return mr.ManagedStatus().Conditions
	}
	return nil
}

// eventReasons lists the reasons of the Events about obj, of the given kind.
func eventReasons(t *testing.T, obj client.Object, kind string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatalf("list events: %v", err)
	}
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Regarding.Kind == kind {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// waitEvent waits for an Event with reason about obj and returns its note.
func waitEvent(t *testing.T, obj client.Object, kind, reason string) string {
	t.Helper()
	var note string
	eventually(t, "event "+reason+" on "+obj.GetName(), func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Regarding.Kind == kind && e.Reason == reason {
				note = e.Note
				return nil
			}
		}
		return fmt.Errorf("no %s event yet", reason)
	})
	return note
}

// awsProvider and postgresProvider reference the local ClusterProviderConfigs.
var (
	awsProvider = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.AWSProviderConfig}
	pgProvider  = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.PostgreSQLProviderConfig}
)
