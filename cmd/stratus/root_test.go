package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	commands := []string{"manager", "dev", "render", "policy", "version", "completion"}
	cases := map[string]struct {
		reason string
		args   []string
		code   int
		stdout []string // substrings of stdout
		stderr []string // substrings of stderr
	}{
		"Help": {
			reason: "--help lists every command and the exit codes, and succeeds.",
			args:   []string{"--help"},
			stdout: append([]string{"Exit codes: 0 success, 1 the command failed, 2 the command line is wrong"}, commands...),
		},
		"ShortHelp": {
			reason: "-h is --help.",
			args:   []string{"-h"},
			stdout: commands,
		},
		"HelpCommand": {
			reason: "help is --help.",
			args:   []string{"help"},
			stdout: commands,
		},
		"HelpOfACommand": {
			reason: "help render is render --help.",
			args:   []string{"help", "render"},
			stdout: []string{"--definition", "--instance", "--observed"},
		},
		"NoCommand": {
			reason: "stratus alone does not run the manager: it needs a command.",
			code:   exitUsage,
			stderr: []string{"stratus: stratus needs a command", "Run 'stratus --help' for usage."},
		},
		"UnknownCommand": {
			reason: "An unknown word is an error that names it, not the manager.",
			args:   []string{"bogus"},
			code:   exitUsage,
			stderr: []string{`stratus: unknown command "bogus" for "stratus"`},
		},
		"Suggestion": {
			reason: "A misspelt command is suggested.",
			args:   []string{"rendr"},
			code:   exitUsage,
			stderr: []string{`unknown command "rendr" for "stratus"; did you mean render?`},
		},
		"Version": {
			reason: "version prints the version.",
			args:   []string{"version"},
			stdout: []string{"stratus " + versionString() + "\n"},
		},
		"VersionFlag": {
			reason: "--version prints the version too.",
			args:   []string{"--version"},
			stdout: []string{"stratus " + versionString() + "\n"},
		},
		"VersionTakesNoArguments": {
			reason: "A stray argument is a usage error.",
			args:   []string{"version", "x"},
			code:   exitUsage,
			stderr: []string{`stratus version takes no arguments, got ["x"]`, "Run 'stratus version --help' for usage."},
		},
		"ManagerHelp": {
			reason: "The manager's flags keep their names, zap's included.",
			args:   []string{"manager", "--help"},
			stdout: []string{"--metrics-bind-address", "--leader-elect", "--poll-interval", "--composable-kinds", "--webhook-port", "--metrics-secure", "--zap-log-level"},
		},
		"ManagerStrayArgument": {
			reason: "The manager takes flags only.",
			args:   []string{"manager", "run"},
			code:   exitUsage,
			stderr: []string{`stratus manager takes no arguments, got ["run"]`},
		},
		"ManagerBadFlag": {
			reason: "A bad flag value is a usage error; the manager does not start.",
			args:   []string{"manager", "--poll-interval=soon"},
			code:   exitUsage,
			stderr: []string{`invalid argument "soon" for "--poll-interval"`, "Run 'stratus manager --help' for usage."},
		},
		"LegacyFlagsOnly": {
			reason: "Flags only are the manager's, with a deprecation note.",
			args:   []string{"--poll-interval=soon"},
			code:   exitUsage,
			stderr: []string{"without the manager command is deprecated", `invalid argument "soon" for "--poll-interval"`, "Run 'stratus manager --help' for usage."},
		},
		"DevHelp": {
			reason: "dev takes the manager's flags and its own.",
			args:   []string{"dev", "--help"},
			stdout: []string{"--kubeconfig-out", "--poll-interval", "--zap-log-level"},
		},
		"RenderHelp": {
			reason: "render --help lists its flags.",
			args:   []string{"render", "--help"},
			stdout: []string{"render --definition def.yaml --instance instance.yaml", "--observed"},
		},
		"RenderUnknownFlag": {
			reason: "An unknown flag is a usage error.",
			args:   []string{"render", "--nope"},
			code:   exitUsage,
			stderr: []string{"stratus: unknown flag: --nope", "Run 'stratus render --help' for usage."},
		},
		"RenderNeedsDefinition": {
			reason: "A missing required flag is a usage error.",
			args:   []string{"render"},
			code:   exitUsage,
			stderr: []string{"stratus: render needs --definition"},
		},
		"RenderFails": {
			reason: "A file that cannot be read is an error, not a usage error.",
			args:   []string{"render", "--definition", "missing.yaml", "--instance", "missing.yaml"},
			code:   exitError,
			stderr: []string{"stratus: cannot read the definition: open missing.yaml"},
		},
		"PolicyHelp": {
			reason: "policy --help lists test.",
			args:   []string{"policy", "--help"},
			stdout: []string{"test", "Check guardrails against test cases"},
		},
		"PolicyNoCommand": {
			reason: "policy needs a command.",
			args:   []string{"policy"},
			code:   exitUsage,
			stderr: []string{"stratus: stratus policy needs a command"},
		},
		"PolicyUnknownCommand": {
			reason: "An unknown word after policy is named.",
			args:   []string{"policy", "tset"},
			code:   exitUsage,
			stderr: []string{`unknown command "tset" for "stratus policy"; did you mean test?`},
		},
		"PolicyTestHelp": {
			reason: "policy test --help lists --suite.",
			args:   []string{"policy", "test", "--help"},
			stdout: []string{"--suite"},
		},
		"PolicyTestNeedsSuite": {
			reason: "A missing --suite is a usage error.",
			args:   []string{"policy", "test"},
			code:   exitUsage,
			stderr: []string{"stratus: policy test needs --suite"},
		},
		"PolicyTestFails": {
			reason: "A failed case is an error.",
			args:   []string{"policy", "test", "--suite", filepath.Join(policyTestdata, "failing.yaml")},
			code:   exitError,
			stdout: []string{"FAIL"},
			stderr: []string{"stratus: 3 of 4 cases failed"},
		},
		"CompletionHelp": {
			reason: "completion --help lists the shells.",
			args:   []string{"completion", "--help"},
			stdout: []string{"bash", "zsh", "fish", "powershell"},
		},
		"Completion": {
			reason: "completion writes a script.",
			args:   []string{"completion", "bash"},
			stdout: []string{"bash completion V2 for stratus"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("%s\nstratus %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.reason, strings.Join(tc.args, " "), code, tc.code, &stdout, &stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("%s\nstratus %s: stdout does not contain %q:\n%s", tc.reason, strings.Join(tc.args, " "), want, &stdout)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("%s\nstratus %s: stderr does not contain %q:\n%s", tc.reason, strings.Join(tc.args, " "), want, &stderr)
				}
			}
			if tc.code == exitOK && stderr.Len() > 0 {
				t.Errorf("%s\nstratus %s: stderr is not empty:\n%s", tc.reason, strings.Join(tc.args, " "), &stderr)
			}
		})
	}
}
