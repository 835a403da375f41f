package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/engine"
	"github.com/stratus-operator/stratus/policy/library"
	"github.com/stratus-operator/stratus/policy/match"
)

// policySuite is the file `stratus policy test --suite` reads. Paths are
// relative to the suite file.
//
//	guardrails:
//	- path: guardrails/custom.yaml          # a Guardrail manifest, or
//	- library: required-labels               # a built-in guardrail
//	  name: labels                           # optional, defaults to the library name
//	  enforcementAction: warn                # deny (default), warn or dryrun
//	  parameters: {labels: [owner]}          # optional
//	  match: {kinds: [{apiGroups: ["*"], kinds: [Bucket]}]} # optional, defaults to every kind
//	cases:
//	- name: public bucket is denied
//	  objects: objects/public-bucket.yaml    # one or more YAML documents
//	  expect:                                # one entry per document, in order
//	  - result: deny                         # allow, deny or warn
//	    messages: ["spec.publicAccess"]      # optional substrings of the violations
type policySuite struct {
	Guardrails []suiteGuardrail `json:"guardrails"`
	Cases      []suiteCase      `json:"cases"`
}

type suiteGuardrail struct {
	Path              string                           `json:"path,omitempty"`
	Library           string                           `json:"library,omitempty"`
	Name              string                           `json:"name,omitempty"`
	EnforcementAction policyv1alpha1.EnforcementAction `json:"enforcementAction,omitempty"`
	Parameters        map[string]any                   `json:"parameters,omitempty"`
	Match             *policyv1alpha1.Match            `json:"match,omitempty"`
}

type suiteCase struct {
	Name    string        `json:"name"`
	Objects string        `json:"objects"`
	Expect  []expectation `json:"expect"`
}

type expectation struct {
	Result   string   `json:"result"`
	Messages []string `json:"messages,omitempty"`
}

// suiteRail is a compiled guardrail of a suite.
type suiteRail struct {
	g      *engine.Guardrail
	match  *match.Matcher
	action policyv1alpha1.EnforcementAction
}

// newPolicyCommand builds `stratus policy` and its commands.
func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with guardrails without a cluster",
		Args:  unknownCommand,
		RunE:  missingCommand,
	}
	var suitePath string
	test := &cobra.Command{
		Use:   "test --suite suite.yaml",
		Short: "Check guardrails against test cases, without a cluster",
		Long: `Check the guardrails of a suite against its cases, without a cluster:
one line per case and a summary. A failed case is an error (exit code 1).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// run reports the error; the manager's logger has nothing to add.
			ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
			if suitePath == "" {
				return usageErrorf("policy test needs --suite")
			}
			return testPolicies(suitePath, cmd.OutOrStdout())
		},
	}
	test.Flags().StringVar(&suitePath, "suite", "", "the test suite, as YAML (required)")
	cmd.AddCommand(test)
	return cmd
}

// testPolicies runs `stratus policy test --suite suitePath`: it checks
// the guardrails of the suite against its cases, without a cluster, writes
// one line per case and a summary to out, and returns an error when a case
// failed or the suite is invalid.
func testPolicies(suitePath string, out io.Writer) error {
	suite, rails, err := loadSuite(suitePath)
	if err != nil {
		return err
	}
	dir := filepath.Dir(suitePath)
	// Read every case first: an invalid suite runs nothing.
	objects := make([][]*unstructured.Unstructured, len(suite.Cases))
	for i, c := range suite.Cases {
		field := fmt.Sprintf("cases[%d]", i)
		objs, err := readObjects(resolvePath(dir, c.Objects))
		if err != nil {
			return fmt.Errorf("invalid suite %s: %s.objects: %w", suitePath, field, err)
		}
		if len(objs) != len(c.Expect) {
			return fmt.Errorf("invalid suite %s: %s.expect has %d entries, but %s holds %d objects", suitePath, field, len(c.Expect), c.Objects, len(objs))
		}
		objects[i] = objs
	}

	passed, failed := 0, 0
	for i, c := range suite.Cases {
		var problems []string
		for j, obj := range objects[i] {
			p, err := checkObject(rails, obj, c.Expect[j])
			if err != nil {
				return fmt.Errorf("case %q: %w", c.Name, err)
			}
			if p != "" {
				if len(objects[i]) > 1 {
					p = fmt.Sprintf("%s %s: %s", obj.GetKind(), objectKey(obj), p)
				}
				problems = append(problems, p)
			}
		}
		if len(problems) == 0 {
			passed++
			fmt.Fprintf(out, "PASS %s\n", c.Name)
		} else {
			failed++
			fmt.Fprintf(out, "FAIL %s: %s\n", c.Name, strings.Join(problems, "; "))
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d cases failed", failed, passed+failed)
	}
	return nil
}

// checkObject judges obj by the guardrails that match it and returns what
// differs from the expectation, or "".
func checkObject(rails []suiteRail, obj *unstructured.Unstructured, want expectation) (string, error) {
	got := "allow"
	var msgs []string
	for _, r := range rails {
		ok, err := matches(r.match, obj)
		if err != nil {
			return "", fmt.Errorf("guardrail %s: %w", r.g.Name(), err)
		}
		if !ok {
			continue
		}
		vs, err := r.g.Evaluate(context.Background(), engine.Input{Object: obj.Object, Operation: "CREATE"})
		if err != nil {
			return "", err
		}
		if len(vs) == 0 {
			continue
		}
		for _, v := range vs {
			msgs = append(msgs, v.Message)
		}
		switch r.action {
		case policyv1alpha1.EnforcementDeny:
			got = "deny"
		case policyv1alpha1.EnforcementWarn:
			if got == "allow" {
				got = "warn"
			}
		}
	}
	var problems []string
	if got != want.Result {
		problems = append(problems, fmt.Sprintf("expected %s, got %s", want.Result, got))
	}
	for _, m := range want.Messages {
		if !slices.ContainsFunc(msgs, func(s string) bool { return strings.Contains(s, m) }) {
			problems = append(problems, fmt.Sprintf("no violation contains %q", m))
		}
	}
	if len(problems) == 0 {
		return "", nil
	}
	vs := "none"
	if len(msgs) > 0 {
		vs = strings.Join(msgs, "; ")
	}
	return fmt.Sprintf("%s (violations: %s)", strings.Join(problems, ", "), vs), nil
}

// matches applies a Guardrail's match to an object created by CREATE.
func matches(m *match.Matcher, obj *unstructured.Unstructured) (bool, error) {
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", obj.GetKind(), objectKey(obj), err)
	}
	return m.Matches(match.Request{
		GroupKind: schema.GroupKind{Group: gv.Group, Kind: obj.GetKind()},
		Namespace: obj.GetNamespace(),
		Labels:    obj.GetLabels(),
		Operation: "CREATE",
	}, nil)
}

// loadSuite reads and validates a suite and compiles its guardrails.
func loadSuite(path string) (*policySuite, []suiteRail, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the suite: %w", err)
	}
	suite := &policySuite{}
	if err := yaml.UnmarshalStrict(data, suite); err != nil {
		return nil, nil, fmt.Errorf("cannot parse the suite %s: %w", path, err)
	}
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("invalid suite %s: %s", path, fmt.Sprintf(format, a...))
	}
	if len(suite.Guardrails) == 0 {
		return nil, nil, invalid("guardrails: at least one is required")
	}
	if len(suite.Cases) == 0 {
		return nil, nil, invalid("cases: at least one is required")
	}
	dir := filepath.Dir(path)
	names := map[string]bool{}
	var rails []suiteRail
	for i, sg := range suite.Guardrails {
		field := fmt.Sprintf("guardrails[%d]", i)
		var (
			name, module string
			params       = sg.Parameters
			matchSpec    policyv1alpha1.Match
			action       = sg.EnforcementAction
		)
		switch {
		case (sg.Path == "") == (sg.Library == ""):
			return nil, nil, invalid("%s: set exactly one of path and library", field)
		case sg.Library != "":
			e, ok := library.Get(sg.Library)
			if !ok {
				return nil, nil, invalid("%s.library: no built-in guardrail %q", field, sg.Library)
			}
			name, module = sg.Library, e.Module
			if sg.Name != "" {
				name = sg.Name
			}
			matchSpec = policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}}
			if sg.Match != nil {
				matchSpec = *sg.Match
			}
		default:
			if sg.Name != "" || sg.EnforcementAction != "" || sg.Parameters != nil || sg.Match != nil {
				return nil, nil, invalid("%s: a guardrail read from path takes no name, enforcementAction, parameters or match", field)
			}
			gr, err := readGuardrail(resolvePath(dir, sg.Path))
			if err != nil {
				return nil, nil, invalid("%s.path: %v", field, err)
			}
			name, module, matchSpec, action = gr.Name, gr.Spec.Rego, gr.Spec.Match, gr.Spec.EnforcementAction
			if gr.Spec.Parameters != nil && len(gr.Spec.Parameters.Raw) > 0 {
				if err := json.Unmarshal(gr.Spec.Parameters.Raw, &params); err != nil {
					return nil, nil, invalid("%s.path: %s: spec.parameters: %v", field, sg.Path, err)
				}
			}
		}
		if action == "" {
			action = policyv1alpha1.EnforcementDeny
		}
		switch action {
		case policyv1alpha1.EnforcementDeny, policyv1alpha1.EnforcementWarn, policyv1alpha1.EnforcementDryRun:
		default:
			return nil, nil, invalid("%s.enforcementAction: %q is not deny, warn or dryrun", field, action)
		}
		if len(matchSpec.Kinds) == 0 {
			return nil, nil, invalid("%s.match.kinds: at least one is required", field)
		}
		if matchSpec.NamespaceSelector != nil {
			return nil, nil, invalid("%s.match.namespaceSelector: namespace labels are unknown without a cluster", field)
		}
		if names[name] {
			return nil, nil, invalid("%s: two guardrails are named %q (set name)", field, name)
		}
		names[name] = true
		g, err := engine.Compile(name, module, params)
		if err != nil {
			return nil, nil, invalid("%s: %v", field, err)
		}
		m, err := match.New(matchSpec)
		if err != nil {
			return nil, nil, invalid("%s: %v", field, err)
		}
		rails = append(rails, suiteRail{g: g, match: m, action: action})
	}
	for i, c := range suite.Cases {
		field := fmt.Sprintf("cases[%d]", i)
		if c.Name == "" {
			return nil, nil, invalid("%s.name: required", field)
		}
		if c.Objects == "" {
			return nil, nil, invalid("%s.objects: required", field)
		}
		if len(c.Expect) == 0 {
			return nil, nil, invalid("%s.expect: one entry per object is required", field)
		}
		for j, e := range c.Expect {
			switch e.Result {
			case "allow", "deny", "warn":
			default:
				return nil, nil, invalid("%s.expect[%d].result: %q is not allow, deny or warn", field, j, e.Result)
			}
		}
	}
	return suite, rails, nil
}

// readGuardrail reads a Guardrail manifest, rejecting unknown fields.
func readGuardrail(path string) (*policyv1alpha1.Guardrail, error) {
	gr := &policyv1alpha1.Guardrail{}
	if err := readTyped(path, gr, policyv1alpha1.GroupVersion.WithKind("Guardrail")); err != nil {
		return nil, err
	}
	if gr.Name == "" {
		return nil, fmt.Errorf("%s: metadata.name is required", path)
	}
	return gr, nil
}

// resolvePath resolves a path of the suite file, relative to its folder.
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
