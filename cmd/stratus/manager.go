package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/stratus-operator/stratus/cmd/stratus/options"
	compositionscontroller "github.com/stratus-operator/stratus/compositions/controller"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/providers/managed"
	"github.com/stratus-operator/stratus/providers/registry"
)

// newManagerCommand builds `stratus manager`: the operator, against the
// cluster in KUBECONFIG or the pod's.
func newManagerCommand() *cobra.Command {
	var opts options.Manager
	cmd := &cobra.Command{
		Use:   "manager [flags]",
		Short: "Run the manager against the cluster in KUBECONFIG, or the pod's",
		Long: `Run the manager: the controllers of the managed resources and the
composites, the guardrails' webhook and audit, against the cluster in
KUBECONFIG, or the pod's when it runs in one.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.Zap)))
			cfg, err := ctrl.GetConfig()
			if err != nil {
				err = fmt.Errorf("find the cluster (set KUBECONFIG or run in a pod): %w", err)
			} else {
				err = runManager(ctrl.SetupSignalHandler(), cfg, opts)
			}
			if err != nil {
				ctrl.Log.Error(err, "stratus failed")
			}
			return err
		},
	}
	bindManagerFlags(cmd, &opts)
	return cmd
}

// bindManagerFlags binds the manager's flags, those of options and zap's,
// to cmd, with their names.
func bindManagerFlags(cmd *cobra.Command, opts *options.Manager) {
	fs := flag.NewFlagSet(cmd.Name(), flag.ContinueOnError)
	opts.Bind(fs)
	cmd.Flags().AddGoFlagSet(fs)
}

// runManager runs the manager until ctx ends.
func runManager(ctx context.Context, cfg *rest.Config, opts options.Manager) error {
	scheme, err := options.Scheme()
	if err != nil {
		return err
	}
	guardrails, err := opts.Webhook.Guardrails(options.PodNamespace())
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		// HTTP/1.1 only unless --enable-http2, on both servers.
		WebhookServer: webhook.NewServer(opts.Serving.Webhook(&opts.Webhook)),
		Scheme:        scheme,
		Cache:         opts.Webhook.Cache(),
		// HTTPS, authenticated and authorized by the API server, unless
		// --metrics-secure=false.
		Metrics:                opts.Serving.Metrics(opts.MetricsAddr),
		HealthProbeBindAddress: opts.ProbeAddr,
		// STRATUS_PPROF_BIND_ADDRESS serves net/http/pprof there, for
		// profiling (test/bench); unset serves none.
		PprofBindAddress:        os.Getenv("STRATUS_PPROF_BIND_ADDRESS"),
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        options.LeaderElectionID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// Releasing the lease on a clean stop lets a new replica take over
		// at once; every reconcile is safe to resume.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := registry.Setup(mgr, registry.DefaultDrivers(), managed.Options{
		PollInterval:            opts.PollInterval,
		Timeout:                 opts.ReconcileTimeout,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		ClusterName:             opts.ClusterName,
	}); err != nil {
		return err
	}
	compositionOpts, err := opts.Compositions()
	if err != nil {
		return err
	}
	if err := compositionscontroller.Setup(mgr, compositionOpts...); err != nil {
		return err
	}
	if opts.Webhook.CertRotation {
		if guardrails.CertsReady, err = opts.Webhook.AddCertRotator(mgr, options.PodNamespace()); err != nil {
			return err
		}
	}
	if _, err := policysetup.Setup(mgr, guardrails); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting manager", "pollInterval", opts.PollInterval, "leaderElect", opts.LeaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}
