package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const policyTestdata = "testdata/policy"

func TestPolicyTestGolden(t *testing.T) {
	cases := map[string]struct {
		reason  string
		suite   string
		wantErr string
	}{
		"Passing": {
			reason: "Library guardrails with deny, warn and dryrun, and a manifest matched by namespace, all as expected.",
			suite:  "suite.yaml",
		},
		"Failing": {
			reason:  "A wrong result and a missing message fail their cases, and the command.",
			suite:   "failing.yaml",
			wantErr: "3 of 4 cases failed",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := execute([]string{"policy", "test", "--suite", filepath.Join(policyTestdata, tc.suite)}, &out, io.Discard)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s\nunexpected error: %v\n%s", tc.reason, err, out.String())
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Fatalf("%s\nerror = %v, want %q", tc.reason, err, tc.wantErr)
			}
			golden := filepath.Join(policyTestdata, strings.TrimSuffix(tc.suite, ".yaml")+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("cannot read the golden file (run go test ./cmd/stratus -run TestPolicyTestGolden -update): %v", err)
			}
			if diff := cmp.Diff(string(want), out.String()); diff != "" {
				t.Errorf("%s\n-want (%s), +got:\n%s", tc.reason, golden, diff)
			}
		})
	}
}

func TestPolicyTestInvalid(t *testing.T) {
	dir := t.TempDir()
	objects, err := filepath.Abs(filepath.Join(policyTestdata, "objects", "public-bucket.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("not-a-guardrail.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
	guardrail := func(name, rego string) string {
		return write(name+".yaml", "apiVersion: policy.stratus.dev/v1alpha1\nkind: Guardrail\nmetadata:\n  name: "+name+
			"\nspec:\n  match: {kinds: [{apiGroups: ['*'], kinds: ['*']}]}\n  rego: |\n    "+strings.ReplaceAll(rego, "\n", "\n    ")+"\n")
	}
	guardrail("exfil", "package exfil\n\nviolation contains {\"msg\": \"x\"} if {\n\thttp.send({\"method\": \"GET\", \"url\": \"http://169.254.169.254/\"})\n}")
	guardrail("loop", "package loop\n\nviolation contains {\"msg\": \"x\"} if {\n\tcount([[i, j] | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000)]) < 0\n}")
	cases := map[string]struct {
		suite string
		want  string
	}{
		"BadResult": {
			suite: filepath.Join(policyTestdata, "invalid.yaml"),
			want:  `invalid suite testdata/policy/invalid.yaml: cases[0].expect[0].result: "reject" is not allow, deny or warn`,
		},
		"UnknownField": {
			suite: write("unknown.yaml", "guardrails:\n- library: buckets-not-public\n  action: deny\ncases: []\n"),
			want:  `unknown field "action"`,
		},
		"UnknownLibrary": {
			suite: write("library.yaml", "guardrails:\n- library: nope\ncases:\n- {name: x, objects: "+objects+", expect: [{result: allow}]}\n"),
			want:  `library.yaml: guardrails[0].library: no built-in guardrail "nope"`,
		},
		"BadAction": {
			suite: write("action.yaml", "guardrails:\n- library: buckets-not-public\n  enforcementAction: block\ncases:\n- {name: x, objects: "+objects+", expect: [{result: allow}]}\n"),
			want:  `action.yaml: guardrails[0].enforcementAction: "block" is not deny, warn or dryrun`,
		},
		"PathAndLibrary": {
			suite: write("both.yaml", "guardrails:\n- {library: buckets-not-public, path: g.yaml}\ncases:\n- {name: x, objects: "+objects+", expect: [{result: allow}]}\n"),
			want:  `both.yaml: guardrails[0]: set exactly one of path and library`,
		},
		"NotAGuardrail": {
			suite: write("kind.yaml", "guardrails:\n- path: not-a-guardrail.yaml\ncases:\n- {name: x, objects: "+objects+", expect: [{result: allow}]}\n"),
			want:  `kind.yaml: guardrails[0].path: ` + filepath.Join(dir, "not-a-guardrail.yaml") + ` holds a ConfigMap v1, not a Guardrail`,
		},
		"ExpectCount": {
			suite: write("count.yaml", "guardrails:\n- library: buckets-not-public\ncases:\n- {name: x, objects: "+objects+", expect: [{result: allow}, {result: deny}]}\n"),
			want:  `count.yaml: cases[0].expect has 2 entries, but ` + objects + ` holds 1 objects`,
		},
		"MissingObjects": {
			suite: write("missing.yaml", "guardrails:\n- library: buckets-not-public\ncases:\n- {name: x, objects: nope.yaml, expect: [{result: allow}]}\n"),
			want:  `missing.yaml: cases[0].objects: cannot read objects`,
		},
		"Sandbox": {
			suite: write("sandbox.yaml", "guardrails:\n- path: exfil.yaml\ncases:\n- {name: x, objects: "+objects+", expect: [{result: allow}]}\n"),
			want:  `sandbox.yaml: guardrails[0]: guardrail "exfil" does not compile: exfil.rego:4:2: guardrail_sandbox_error: http.send is not allowed in a guardrail`,
		},
		"Runaway": {
			suite: write("runaway.yaml", "guardrails:\n- path: loop.yaml\ncases:\n- {name: x, objects: "+objects+", expect: [{result: allow}]}\n"),
			want:  `case "x": guardrail "loop" exceeded its limit of 100000 evaluation steps`,
		},
		"NoCases": {
			suite: write("nocases.yaml", "guardrails:\n- library: buckets-not-public\n"),
			want:  `nocases.yaml: cases: at least one is required`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := execute([]string{"policy", "test", "--suite", tc.suite}, &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("an invalid suite ran cases:\n%s", out.String())
			}
		})
	}
}

// TestPolicyExitCode runs main in a child process, as `stratus policy test`,
// and checks its exit code.
func TestPolicyExitCode(t *testing.T) {
	if suite := os.Getenv("STRATUS_POLICY_TEST_SUITE"); suite != "" {
		os.Args = []string{"stratus", "policy", "test", "--suite", suite}
		main()
		os.Exit(0)
	}
	for suite, want := range map[string]int{"suite.yaml": 0, "failing.yaml": 1, "invalid.yaml": 1} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPolicyExitCode$")
		cmd.Env = append(os.Environ(), "STRATUS_POLICY_TEST_SUITE="+filepath.Join(policyTestdata, suite))
		out, err := cmd.CombinedOutput()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: exit code %d, want %d\n%s", suite, got, want, out)
		}
	}
}
