package options

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseAndGuardrails(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		podNS   string
		wantErr string
		check   func(t *testing.T, o *Manager)
	}{
		{name: "defaults", args: nil, podNS: "stratus-system", check: func(t *testing.T, o *Manager) {
			g, err := o.Webhook.Guardrails("stratus-system")
			if err != nil {
				t.Fatal(err)
			}
			if !g.ServeWebhooks || g.Timeout != 3*time.Second || string(g.FailurePolicy) != "Fail" {
				t.Errorf("guardrail options %+v", g)
			}
			if !slices.Equal(g.ExemptNamespaces, []string{"kube-system", "kube-public", "kube-node-lease", "stratus-system"}) {
				t.Errorf("exempt %v", g.ExemptNamespaces)
			}
		}},
		{name: "webhooks off", args: []string{"--webhook-port=0", "--exempt-namespaces= a , ,b"}, check: func(t *testing.T, o *Manager) {
			g, err := o.Webhook.Guardrails("")
			if err != nil {
				t.Fatal(err)
			}
			if g.ServeWebhooks || !slices.Equal(g.ExemptNamespaces, []string{"a", "b"}) {
				t.Errorf("guardrail options %+v", g)
			}
		}},
		{name: "bad failure policy", args: []string{"--guardrail-failure-policy=Sometimes"}, wantErr: `--guardrail-failure-policy must be Fail or Ignore, got "Sometimes"`},
		{name: "bad timeout", args: []string{"--guardrail-timeout=0s"}, wantErr: "--guardrail-timeout must be positive"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantErr: "no-such-flag"},
		{name: "stray argument", args: []string{"--leader-elect", "extra"}, wantErr: `unexpected arguments ["extra"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Parse(tc.args)
			if err == nil && tc.wantErr != "" {
				_, err = o.Webhook.Guardrails(tc.podNS)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

func TestCertRotatorNeedsItsSettings(t *testing.T) {
	cases := []struct {
		args    []string
		podNS   string
		wantErr string
	}{
		{args: []string{"--cert-rotation", "--webhook-configuration=x"}, wantErr: "POD_NAMESPACE"},
		{args: []string{"--cert-rotation"}, podNS: "ns", wantErr: "--webhook-configuration"},
		{args: []string{"--cert-rotation", "--webhook-configuration=x", "--webhook-port=0"}, podNS: "ns", wantErr: "--webhook-port must not be 0"},
	}
	for _, tc := range cases {
		o, err := Parse(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Webhook.AddCertRotator(nil, tc.podNS); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.wantErr)
		}
	}
}
