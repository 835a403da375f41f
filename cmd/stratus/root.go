package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of every stratus command.
const (
	exitOK    = 0 // success, and --help
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line is wrong: unknown command or flag, missing flag, stray argument
)

// usageError is a command line that is wrong: the command did not run.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// version is the release, set with -ldflags "-X main.version=v1.2.3" by the
// Makefile and the Dockerfile; empty falls back to the module's build info.
var version = ""

// versionString is what `stratus version` prints.
func versionString() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" {
		v = "(devel)"
		if ok && info.Main.Version != "" {
			v = info.Main.Version
		}
	}
	if !ok {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		return fmt.Sprintf("%s (commit %s%s, %s)", v, rev, modified, info.GoVersion)
	}
	return fmt.Sprintf("%s (%s)", v, info.GoVersion)
}

// newRootCommand builds the stratus command line; its commands write to
// stdout and stderr.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "stratus",
		Short: "Stratus, a Kubernetes operator for cloud buckets and databases with compositions and guardrails",
		Long: `Stratus, a Kubernetes operator for cloud buckets and databases with
compositions and guardrails.

Exit codes: 0 success, 1 the command failed, 2 the command line is wrong
(unknown command or flag, missing flag, stray argument).`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// No command is a usage error; an unknown word is not the manager.
		Args: unknownCommand,
		RunE: missingCommand,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("stratus {{.Version}}\n")
	// Inherited by every command.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newManagerCommand(),
		newDevCommand(),
		newRenderCommand(),
		newPolicyCommand(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version of stratus",
			Args:  noArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "stratus", versionString())
			},
		},
	)
	return root
}

// unknownCommand accepts no arguments on a command whose arguments are
// commands.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}

// missingCommand runs a command that needs a command.
func missingCommand(cmd *cobra.Command, _ []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usageErrorf("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
}

// noArgs accepts no arguments on a command that takes flags only.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// legacyManagerArgs reports whether args are those of stratus before its
// commands: flags only, which ran the manager. They still do, as
// `stratus manager` with the same flags, with a deprecation note.
func legacyManagerArgs(args []string) bool {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return false
	}
	switch args[0] {
	case "-h", "--help", "-help", "--version":
		return false
	}
	return true
}

// execute runs the command line args (without the program name) and
// returns the command it ran and its error; --help is not one.
func execute(args []string, stdout, stderr io.Writer) (*cobra.Command, error) {
	if legacyManagerArgs(args) {
		fmt.Fprintln(stderr, "stratus: running the manager without the manager command is deprecated and will be removed: run `stratus manager "+args[0]+" ...`")
		args = append([]string{"manager"}, args...)
	}
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteC()
}

// run runs the command line args and returns the exit code, having
// written the error, if any, to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	cmd, err := execute(args, stdout, stderr)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "stratus:", err)
	if errors.As(err, new(usageError)) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitError
}
