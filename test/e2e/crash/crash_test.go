package crash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/localenv"
	"github.com/stratus-operator/stratus/test/servers"
)

const patience = 90 * time.Second

var (
	env        *localenv.Env
	k8s        client.Client
	binary     string
	kubeconfig string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "stratus-crash-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := servers.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binary = filepath.Join(dir, "stratus")
	build := exec.Command("go", "build", "-o", binary, "./cmd/stratus")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build stratus:", err)
		return 1
	}
	if env, err = localenv.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, stratusv1alpha1.AddToScheme, storagev1alpha1.AddToScheme, databasev1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if k8s, err = env.NewClient(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := env.Install(ctx, k8s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.ControlPlane.KubeConfig, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// manager starts the stratus binary; crashPoint, if set, makes it kill
// itself there.
func manager(t *testing.T, crashPoint string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "manager", "--metrics-bind-address=0", "--health-probe-bind-address=0", "--poll-interval=2s", "--webhook-port=0")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "STRATUS_CRASH_POINT="+crashPoint)
	log, err := os.Create(filepath.Join(t.TempDir(), "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start manager: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("manager log:\n%s", tail(string(out), 4000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitKilled waits for a manager to die by SIGKILL.
func waitKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("manager exited with %v, want killed by SIGKILL", err)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("manager exited with %v, want killed by SIGKILL", err)
		}
	case <-time.After(patience):
		t.Fatalf("manager did not reach the crash point within %s", patience)
	}
}

type managedObject interface {
	client.Object
	ManagedStatus() *stratusv1alpha1.ManagedResourceStatus
}

// crashCase is one kind whose create is interrupted.
type crashCase struct {
	reason string
	obj    managedObject
	// count returns how many cloud resources stand for the object.
	count func(t *testing.T) int
	// use proves the resource works after the restart.
	use func(t *testing.T)
}

func TestCrashBetweenCreateAndStatusWrite(t *testing.T) {
	ctx := context.Background()
	ns := "crash"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(env.S3.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(env.S3.AccessKey, env.S3.SecretKey, "")})
	pg, err := pgx.Connect(ctx, env.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)

	bucketName := registry.BucketName(ns, "photos")
	cases := []crashCase{
		{
			reason: "Bucket",
			obj: &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "photos"},
				Spec: storagev1alpha1.BucketSpec{ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
					ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.AWSProviderConfig}}}},
			count: func(t *testing.T) int {
				out, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
				if err != nil {
					t.Fatalf("list buckets: %v", err)
				}
				n := 0
				for _, b := range out.Buckets {
					if strings.HasPrefix(aws.ToString(b.Name), ns+"-") {
						n++
					}
				}
				return n
			},
			use: func(t *testing.T) {
				if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucketName), Key: aws.String("a.jpg"), Body: strings.NewReader("x")}); err != nil {
					t.Errorf("use the bucket: %v", err)
				}
			},
		},
		{
			reason: "Database",
			obj: &databasev1alpha1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "billing"},
				Spec: databasev1alpha1.DatabaseSpec{ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
					ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.PostgreSQLProviderConfig}}}},
			count: func(t *testing.T) int {
				var n int
				if err := pg.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", ns+"\\_%").Scan(&n); err != nil {
					t.Fatalf("count databases: %v", err)
				}
				return n
			},
			use: func(t *testing.T) {
				var s corev1.Secret
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "billing-connection"}, &s); err != nil {
					t.Fatalf("get connection secret: %v", err)
				}
				conn, err := pgx.Connect(ctx, string(s.Data["uri"]))
				if err != nil {
					t.Fatalf("log in with the password generated before the crash: %v", err)
				}
				_ = conn.Close(ctx)
			},
		},
	}

	for _, tc := range cases {
		if err := k8s.Create(ctx, tc.obj); err != nil {
			t.Fatalf("create %s: %v", tc.reason, err)
		}
		// Only this object exists unreconciled: the crashing manager
		// creates it in the cloud and dies before writing anything more.
		waitKilled(t, manager(t, "after-create"))
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.obj), tc.obj); err != nil {
			t.Fatal(err)
		}
		a := tc.obj.GetAnnotations()
		if a[stratusv1alpha1.AnnotationCreatePending] == "" || a[stratusv1alpha1.AnnotationCreateSucceeded] != "" {
			t.Fatalf("%s: annotations after the crash are %v, want the create intent and no success mark", tc.reason, a)
		}
		if c := meta.FindStatusCondition(tc.obj.ManagedStatus().Conditions, stratusv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
			t.Fatalf("%s: Ready before the restart: the status write was not interrupted", tc.reason)
		}
		if n := tc.count(t); n != 1 {
			t.Fatalf("%s: %d cloud resources after the crash, want the 1 just created", tc.reason, n)
		}
	}

	// Restart: both objects are resumed, neither is created twice.
	manager(t, "")
	for _, tc := range cases {
		harness.Eventually(t, tc.reason+" Ready after restart", func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.obj), tc.obj); err != nil {
				return err
			}
			c := meta.FindStatusCondition(tc.obj.ManagedStatus().Conditions, stratusv1alpha1.ConditionReady)
			if c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("Ready is %+v", c)
			}
			return nil
		})
		if n := tc.count(t); n != 1 {
			t.Errorf("%s: %d cloud resources after the restart, want exactly 1", tc.reason, n)
		}
		tc.use(t)
	}
}
