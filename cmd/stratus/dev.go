package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/stratus-operator/stratus/cmd/stratus/options"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/test/controlplane"
	"github.com/stratus-operator/stratus/test/localenv"
)

// newDevCommand builds `stratus dev`.
func newDevCommand() *cobra.Command {
	var (
		opts       options.Manager
		kubeconfig string
	)
	cmd := &cobra.Command{
		Use:   "dev [flags]",
		Short: "Run a local control plane, local AWS, Google Cloud and PostgreSQL, and the manager against them",
		Long: `Run a local control plane, local AWS, Google Cloud and PostgreSQL with
provider configurations for them, and the manager against them, until
interrupted. Everything it starts is thrown away when it stops. It takes
the manager's flags.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := runDev(opts, kubeconfig); err != nil {
				ctrl.Log.Error(err, "stratus failed")
				return err
			}
			return nil
		},
	}
	bindManagerFlags(cmd, &opts)
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig-out", filepath.Join(".stratus-dev", "kubeconfig"), "where to write the kubeconfig of the local control plane")
	return cmd
}

// runDev runs `stratus dev`: a local control plane, S3 server and PostgreSQL
// with provider configurations for them, and the manager against them, until
// interrupted. Everything it starts is thrown away when it stops.
func runDev(opts options.Manager, kubeconfig string) error {
	opts.MetricsAddr = "127.0.0.1:0"
	if opts.ProbeAddr == ":8081" {
		opts.ProbeAddr = "127.0.0.1:0"
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.Zap)))
	// Every later signal is swallowed too, until the deferred cleanup has
	// stopped the servers: a second Ctrl-C must not leave them running.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(os.Stderr, "starting kube-apiserver, etcd, versitygw and PostgreSQL ...")
	env, err := localenv.StartWith(ctx, localenv.Options{ControlPlane: controlplane.Options{Webhooks: true}})
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop local environment:", err)
		}
	}()
	if err := install(ctx, env); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o700); err != nil {
		return fmt.Errorf("create kubeconfig folder: %w", err)
	}
	if err := os.WriteFile(kubeconfig, env.ControlPlane.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	abs, _ := filepath.Abs(kubeconfig)
	fmt.Printf("\nStratus dev environment is up.\n%s\nIn another shell:\n  export KUBECONFIG=%s\n  kubectl apply -f examples/\n  kubectl get stratus\n\nCtrl-C stops everything and deletes its data.\n\n",
		env.Summary(), abs)
	w := env.ControlPlane.Webhook
	opts.Webhook.Host, opts.Webhook.Port, opts.Webhook.CertDir = w.Host, w.Port, w.CertDir
	opts.Webhook.Configuration = policysetup.DefaultWebhookConfiguration
	if err := runManager(ctx, env.ControlPlane.Config, opts); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// install creates the provider configurations of the local servers.
func install(ctx context.Context, env *localenv.Env) error {
	scheme, err := options.Scheme()
	if err != nil {
		return err
	}
	c, err := env.NewClient(scheme)
	if err != nil {
		return err
	}
	return env.Install(ctx, c)
}
