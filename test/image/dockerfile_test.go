package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// binaryPackage is what the image's go build builds.
const binaryPackage = "./cmd/stratus"

// platforms are the ones `make image` builds by default. The package set of a
// Go build can differ between them through build constraints.
var platforms = []string{"linux/amd64", "linux/arm64"}

// check is one rule about the Dockerfile; it returns what breaks the rule.
type check func(df *dockerfile, bc *buildContext) []string

var checks = []struct {
	name  string
	check check
}{
	{"parses without parser or linter warnings", checkNoWarnings},
	{"has a build stage and a final stage", checkMultiStage},
	{"final stage is distroless static or scratch", checkFinalBase},
	{"final stage runs as a numeric non-root user", checkNonRootUser},
	{"ENTRYPOINT is exec form", checkExecEntrypoint},
	{"go build runs with CGO_ENABLED=0", checkStaticBuild},
	{"go build cross-compiles for the target platform", checkCrossCompile},
	{"modules download in their own cached layer", checkModuleCache},
	{"ENTRYPOINT runs the binary go build writes", checkEntrypointBinary},
	{"no ADD of URLs", checkNoRemoteAdd},
	{"no latest or missing image tags", checkNoLatest},
	{"every COPY --from names an earlier stage", checkCopyFrom},
	{"copied paths exist and are not dockerignored", checkContextSources},
	{"final stage has OCI labels", checkLabels},
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	df := readDockerfile(t, root)
	bc, err := loadBuildContext(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.check(df, bc) {
				t.Error(p)
			}
		})
	}
}

// TestBuilderHasEveryPackage runs go list the way the image build compiles,
// for each platform, and checks that every package of this module that the
// binary is built from is copied into the build stage at its place in the
// module, and that .dockerignore keeps none of its files out.
func TestBuilderHasEveryPackage(t *testing.T) {
	root := repoRoot(t)
	df := readDockerfile(t, root)
	bc, err := loadBuildContext(root)
	if err != nil {
		t.Fatal(err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH: %v", err)
	}
	for _, platform := range platforms {
		t.Run(platform, func(t *testing.T) {
			pkgs := goListDeps(t, goCmd, root, platform)
			folders := map[string]bool{}
			for _, p := range pkgs {
				rel, err := filepath.Rel(root, p.Dir)
				if err != nil {
					t.Fatal(err)
				}
				folders[strings.SplitN(filepath.ToSlash(rel), "/", 3)[0]] = true
			}
			t.Logf("%d packages of this module in %s; top-level folders: %s", len(pkgs), binaryPackage, strings.Join(sortedKeys(folders), " "))
			for _, p := range coverageProblems(df, bc, pkgs) {
				t.Error(p)
			}
		})
	}
}

// TestChecksCatchMistakes feeds each check a Dockerfile with one mistake, so
// that a check that passes everything cannot go unnoticed.
func TestChecksCatchMistakes(t *testing.T) {
	const good = `FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux GOARCH=$TARGETARCH go build -o /out/app ./cmd/stratus
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.source="https://example.com/app" \
      org.opencontainers.image.title="app" \
      org.opencontainers.image.description="An app."
COPY --from=builder /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
`
	files := map[string]string{
		"go.mod":              "module example.com/app\n",
		"go.sum":              "",
		"cmd/stratus/main.go": "package main\n",
		".dockerignore":       "bin/\n",
	}
	// edit makes a Dockerfile with one mistake from the good one.
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("the good Dockerfile has no %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct {
		name       string
		dockerfile string
		files      map[string]string // replace files of the same name; "" removes one
		check      check
		want       string // in one of the problems
	}{
		{"empty continuation line", edit("    CGO_ENABLED", "\n    CGO_ENABLED"), nil, checkNoWarnings, "continuation"},
		{"lower-case AS", edit("AS builder", "as builder"), nil, checkNoWarnings, "FromAsCasing"},
		{"one stage", "FROM scratch\nCOPY go.mod /\nUSER 1:1\nENTRYPOINT [\"/x\"]\n", nil, checkMultiStage, "stage"},
		{"debian final", edit("gcr.io/distroless/static-debian12:nonroot", "debian:12"), nil, checkFinalBase, "debian"},
		{"distroless debug", edit("static-debian12:nonroot", "static-debian12:debug"), nil, checkFinalBase, "debug"},
		{"no USER", edit("USER 65532:65532\n", ""), nil, checkNonRootUser, "no USER"},
		{"named USER", edit("USER 65532:65532", "USER nonroot"), nil, checkNonRootUser, "numeric"},
		{"root USER", edit("USER 65532:65532", "USER 0"), nil, checkNonRootUser, "root"},
		{"root group", edit("USER 65532:65532", "USER 65532:0"), nil, checkNonRootUser, "root"},
		{"shell ENTRYPOINT", edit(`ENTRYPOINT ["/app"]`, "ENTRYPOINT /app"), nil, checkExecEntrypoint, "shell form"},
		{"no ENTRYPOINT", edit(`ENTRYPOINT ["/app"]`, `CMD ["/app"]`), nil, checkExecEntrypoint, "no ENTRYPOINT"},
		{"cgo on", edit("CGO_ENABLED=0", "CGO_ENABLED=1"), nil, checkStaticBuild, "CGO_ENABLED"},
		{"cgo unset", edit("CGO_ENABLED=0 ", ""), nil, checkStaticBuild, "CGO_ENABLED"},
		{"no go build", edit("go build -o /out/app ./cmd/stratus", "true"), nil, checkStaticBuild, "no RUN runs go build"},
		{"TARGETARCH undeclared", edit("ARG TARGETARCH\n", ""), nil, checkCrossCompile, "ARG TARGETARCH"},
		{"GOARCH fixed", edit("GOARCH=$TARGETARCH", "GOARCH=amd64"), nil, checkCrossCompile, "GOARCH"},
		{"emulated builder", edit("--platform=$BUILDPLATFORM ", ""), nil, checkCrossCompile, "BUILDPLATFORM"},
		{"no module cache", edit("RUN --mount=type=cache,target=/go/pkg/mod go mod download", "RUN go mod download"), nil, checkModuleCache, "/go/pkg/mod"},
		{"no build cache", edit(" --mount=type=cache,target=/root/.cache/go-build", ""), nil, checkModuleCache, "go-build"},
		{"sources before download", edit("COPY go.mod go.sum ./\n", "COPY go.mod go.sum ./\nCOPY cmd/ cmd/\n"), nil, checkModuleCache, "before"},
		{"entrypoint not built", edit(`ENTRYPOINT ["/app"]`, `ENTRYPOINT ["/other"]`), nil, checkEntrypointBinary, "/other"},
		{"ADD URL", edit("COPY cmd/ cmd/", "ADD https://example.com/x.tar.gz /x/"), nil, checkNoRemoteAdd, "https://example.com"},
		{"ADD git", edit("COPY cmd/ cmd/", "ADD git@github.com:a/b.git /b"), nil, checkNoRemoteAdd, "git@"},
		{"latest", edit("golang:1.26", "golang:latest"), nil, checkNoLatest, "latest"},
		{"no tag", edit("golang:1.26", "golang"), nil, checkNoLatest, "no tag"},
		{"latest via ARG", "ARG GO=golang:latest\n" + edit("golang:1.26", "${GO}"), nil, checkNoLatest, "latest"},
		{"COPY --from image", edit("COPY --from=builder /out/app /app", "COPY --from=busybox:latest /bin/sh /sh"), nil, checkNoLatest, "busybox"},
		{"COPY --from unknown", edit("--from=builder", "--from=build"), nil, checkCopyFrom, "build"},
		{"COPY --from image ref", edit("--from=builder", "--from=busybox:1.37"), nil, checkCopyFrom, "busybox"},
		{"COPY --from later stage", edit("COPY cmd/ cmd/", "COPY --from=1 / /x"), nil, checkCopyFrom, "--from=1"},
		{"missing path", edit("COPY cmd/ cmd/", "COPY cmd/ apis/ ./"), nil, checkContextSources, "apis"},
		{"dockerignored path", good, map[string]string{".dockerignore": "cmd\n"}, checkContextSources, ".dockerignore"},
		{"no labels", edit(`org.opencontainers.image.title="app" \`, `org.opencontainers.image.other="app" \`), nil, checkLabels, "title"},
		{"license without LICENSE", edit(`LABEL `, `LABEL org.opencontainers.image.licenses="MIT" `), nil, checkLabels, "LICENSE"},
		{"LICENSE without license", good, map[string]string{"LICENSE": "MIT"}, checkLabels, "licenses"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			all := map[string]string{}
			for name, data := range files {
				all[name] = data
			}
			for name, data := range c.files {
				all[name] = data
			}
			for name, data := range all {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			bc, err := loadBuildContext(dir)
			if err != nil {
				t.Fatal(err)
			}
			goodDF, err := parseDockerfile([]byte(good))
			if err != nil {
				t.Fatal(err)
			}
			if c.files == nil {
				if problems := c.check(goodDF, bc); len(problems) > 0 {
					t.Fatalf("the good Dockerfile fails this check: %q", problems)
				}
			}
			df, err := parseDockerfile([]byte(c.dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			problems := c.check(df, bc)
			for _, p := range problems {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Errorf("want a problem mentioning %q, got %q", c.want, problems)
		})
	}
}

// TestCoverageCatchesMissingPackages checks the coverage rule on a made-up
// module: a package outside the copied folders, a package copied to the wrong
// place, a build run outside the module and an ignored embedded file.
func TestCoverageCatchesMissingPackages(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "cmd/stratus/main.go", "lib/a/a.go", "data/d.go", "data/files/x.yaml"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgs := []goPackage{
		{ImportPath: "example.com/app/cmd/stratus", Dir: filepath.Join(dir, "cmd", "stratus"), GoFiles: []string{"main.go"}},
		{ImportPath: "example.com/app/lib/a", Dir: filepath.Join(dir, "lib", "a"), GoFiles: []string{"a.go"}},
		{ImportPath: "example.com/app/data", Dir: filepath.Join(dir, "data"), GoFiles: []string{"d.go"}, EmbedFiles: []string{"files/x.yaml"}},
	}
	const head = "FROM golang:1.26 AS builder\nWORKDIR /src\nCOPY go.mod go.sum ./\n"
	const build = "RUN go build -o /out/app ./cmd/stratus\n"
	cases := []struct {
		name, dockerfile, ignore string
		want                     []string // each in some problem; none if empty
	}{
		{"all copied", head + "COPY cmd/ cmd/\nCOPY lib/ lib/\nCOPY data data\n" + build, "", nil},
		{"whole context", "FROM golang:1.26 AS builder\nWORKDIR /src\nCOPY . .\n" + build, "", nil},
		{"folder missing", head + "COPY cmd/ cmd/\nCOPY data/ data/\n" + build, "", []string{"example.com/app/lib/a"}},
		{"wrong place", head + "COPY cmd/ cmd/\nCOPY lib/a/ lib/\nCOPY data/ data/\n" + build, "", []string{"/src/lib/a.go"}},
		{"contents flattened", head + "COPY cmd/ lib/ data/ ./\n" + build, "", []string{"example.com/app/lib/a"}},
		{"build elsewhere", head + "COPY cmd/ cmd/\nCOPY lib/ lib/\nCOPY data/ data/\nWORKDIR /tmp\n" + build, "", []string{"/tmp"}},
		{"no go.mod", "FROM golang:1.26 AS builder\nWORKDIR /src\nCOPY cmd/ cmd/\nCOPY lib/ lib/\nCOPY data/ data/\n" + build, "", []string{"go.mod"}},
		{"ignored embed", head + "COPY cmd/ cmd/\nCOPY lib/ lib/\nCOPY data/ data/\n" + build, "**/*.yaml\n", []string{".dockerignore", "data/files/x.yaml"}},
		{"no build", head + "COPY . .\n", "", []string{"no RUN builds " + binaryPackage}},
		{"parent stage", head + "COPY cmd/ cmd/\nCOPY lib/ lib/\nFROM builder AS next\nCOPY data/ data/\n" + build, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(c.ignore), 0o644); err != nil {
				t.Fatal(err)
			}
			bc, err := loadBuildContext(dir)
			if err != nil {
				t.Fatal(err)
			}
			df, err := parseDockerfile([]byte(c.dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			problems := coverageProblems(df, bc, pkgs)
			if len(c.want) == 0 && len(problems) > 0 {
				t.Fatalf("want no problems, got %q", problems)
			}
		want:
			for _, w := range c.want {
				for _, p := range problems {
					if strings.Contains(p, w) {
						continue want
					}
				}
				t.Errorf("want a problem mentioning %q, got %q", w, problems)
			}
		})
	}
}

// dockerfile is a Dockerfile as BuildKit parses it, before any expansion.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand // ARGs before the first FROM
	warnings []string                  // from the parser and BuildKit's linter
	syntax   string                    // the # syntax= directive, if any
	escape   rune
}

func parseDockerfile(src []byte) (*dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	df := &dockerfile{escape: res.EscapeToken}
	for _, w := range res.Warnings {
		where := "Dockerfile"
		if w.Location != nil {
			where = lineOf([]parser.Range{*w.Location})
		}
		df.warnings = append(df.warnings, fmt.Sprintf("%s: %s", where, w.Short))
	}
	lint := linter.New(&linter.Config{
		Warn: func(rule, _, _, msg string, loc []parser.Range) {
			df.warnings = append(df.warnings, fmt.Sprintf("%s: %s: %s", lineOf(loc), rule, msg))
		},
	})
	df.stages, df.metaArgs, err = instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, err
	}
	// Without an expander BuildKit leaves RUN --mount options but from= unparsed.
	for i := range df.stages {
		for n, c := range df.stages[i].Commands {
			if r, ok := c.(*instructions.RunCommand); ok {
				env := df.stageEnv(i, n)
				if err := r.Expand(func(w string) (string, error) { return df.expand(w, env), nil }); err != nil {
					return nil, fmt.Errorf("%s: %w", at(r), err)
				}
			}
		}
	}
	df.syntax, _, _, _ = parser.DetectSyntax(src)
	return df, nil
}

func readDockerfile(t *testing.T, root string) *dockerfile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := parseDockerfile(src)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return df
}

func lineOf(loc []parser.Range) string {
	if len(loc) == 0 {
		return "Dockerfile"
	}
	return "line " + strconv.Itoa(loc[0].Start.Line)
}

// at is where a command is, for messages.
func at(c instructions.Command) string {
	return lineOf(c.Location())
}

// expand does the Dockerfile's variable substitution on word with env
// (KEY=value). A word it cannot expand comes back as it is.
func (df *dockerfile) expand(word string, env []string) string {
	out, _, err := shell.NewLex(df.escape).ProcessWord(word, shell.EnvsFromSlice(env))
	if err != nil {
		return word
	}
	return out
}

// metaEnv is the values of the ARGs before the first FROM, which FROM lines
// can use.
func (df *dockerfile) metaEnv() []string {
	var env []string
	for _, a := range df.metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				env = append(env, kv.Key+"="+*kv.Value)
			}
		}
	}
	return env
}

// stageEnv is what the commands of stage i before command n see: the meta
// ARGs, then the stage's own ARGs and ENVs (an approximation of BuildKit's
// scoping that is enough for these checks).
func (df *dockerfile) stageEnv(i, n int) []string {
	env := df.metaEnv()
	for _, c := range df.stages[i].Commands[:n] {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if kv.Value != nil {
					env = append(env, kv.Key+"="+df.expand(*kv.Value, env))
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env = append(env, kv.Key+"="+df.expand(kv.Value, env))
			}
		}
	}
	return env
}

// stageRef returns the index of the stage before stage `before` that name
// refers to (a stage name or index), or -1.
func (df *dockerfile) stageRef(name string, before int) int {
	if n, err := strconv.Atoi(name); err == nil {
		if n >= 0 && n < before {
			return n
		}
		return -1
	}
	for i := 0; i < before && i < len(df.stages); i++ {
		if df.stages[i].Name != "" && strings.EqualFold(df.stages[i].Name, name) {
			return i
		}
	}
	return -1
}

// baseImage follows stage i's FROM through earlier stages to an image.
func (df *dockerfile) baseImage(i int) string {
	for {
		base := df.expand(df.stages[i].BaseName, df.metaEnv())
		j := df.stageRef(base, i)
		if j < 0 {
			return base
		}
		i = j
	}
}

func (df *dockerfile) final() *instructions.Stage {
	return &df.stages[len(df.stages)-1]
}

// run is a RUN command with where it is.
type run struct {
	stage, index int
	cmd          *instructions.RunCommand
	text         string // the command line, and any heredoc files
}

func (df *dockerfile) runs() []run {
	var runs []run
	for i := range df.stages {
		for n, c := range df.stages[i].Commands {
			if r, ok := c.(*instructions.RunCommand); ok {
				text := strings.Join(r.CmdLine, " ")
				for _, f := range r.Files {
					text += "\n" + f.Data
				}
				runs = append(runs, run{stage: i, index: n, cmd: r, text: text})
			}
		}
	}
	return runs
}

var (
	goBuildRE      = regexp.MustCompile(`\bgo\s+build\b`)
	goModDownRE    = regexp.MustCompile(`\bgo\s+mod\s+download\b`)
	assignmentRE   = regexp.MustCompile(`(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\S*)`)
	outputRE       = regexp.MustCompile(`(?:^|\s)-o(?:=|\s+)(\S+)`)
	remoteSourceRE = regexp.MustCompile(`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|git@)`)
	numericUserRE  = regexp.MustCompile(`^([0-9]+)(?::([0-9]+))?$`)
	distrolessRE   = regexp.MustCompile(`^(?:gcr\.io|cgr\.dev)/distroless/static(?:-debian[0-9]+)?$`)
)

func (df *dockerfile) goBuilds() []run {
	var builds []run
	for _, r := range df.runs() {
		if goBuildRE.MatchString(r.text) {
			builds = append(builds, r)
		}
	}
	return builds
}

// vars is what a RUN sees: its stage's ARGs with values and ENVs, then the
// assignments in the command itself. declared holds every ARG of the stage
// before the RUN, with or without a value.
func (df *dockerfile) vars(r run) (vars map[string]string, declared map[string]bool) {
	vars, declared = map[string]string{}, map[string]bool{}
	for _, c := range df.stages[r.stage].Commands[:r.index] {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				declared[kv.Key] = true
				if kv.Value != nil {
					vars[kv.Key] = *kv.Value
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				vars[kv.Key] = kv.Value
			}
		}
	}
	for _, m := range assignmentRE.FindAllStringSubmatch(r.text, -1) {
		vars[m[1]] = strings.Trim(m[2], `"'`)
	}
	return vars, declared
}

func refersTo(value, name string) bool {
	return regexp.MustCompile(`\$\{?` + name + `\b`).MatchString(value)
}

func checkNoWarnings(df *dockerfile, _ *buildContext) []string {
	return df.warnings
}

func checkMultiStage(df *dockerfile, _ *buildContext) []string {
	if len(df.stages) < 2 {
		return []string{fmt.Sprintf("%d stage(s); want a build stage and a final stage", len(df.stages))}
	}
	return nil
}

func checkFinalBase(df *dockerfile, _ *buildContext) []string {
	base := df.baseImage(len(df.stages) - 1)
	if base == "scratch" {
		return nil
	}
	repo, tag, _ := splitImageRef(base)
	if !distrolessRE.MatchString(repo) {
		return []string{fmt.Sprintf("the final stage is based on %s, not distroless static or scratch", base)}
	}
	if strings.Contains(tag, "debug") {
		return []string{fmt.Sprintf("the final stage is based on %s, a debug image with a shell", base)}
	}
	return nil
}

func checkNonRootUser(df *dockerfile, _ *buildContext) []string {
	var user *instructions.UserCommand
	for _, c := range df.final().Commands {
		if u, ok := c.(*instructions.UserCommand); ok {
			user = u
		}
	}
	if user == nil {
		return []string{"the final stage has no USER, so it runs as its base image's user"}
	}
	m := numericUserRE.FindStringSubmatch(user.User)
	if m == nil {
		return []string{fmt.Sprintf("%s: USER %s is not numeric uid[:gid], so Kubernetes' runAsNonRoot cannot verify it", at(user), user.User)}
	}
	if strings.Trim(m[1], "0") == "" || m[2] != "" && strings.Trim(m[2], "0") == "" {
		return []string{fmt.Sprintf("%s: USER %s is root (uid or gid 0)", at(user), user.User)}
	}
	return nil
}

func checkExecEntrypoint(df *dockerfile, _ *buildContext) []string {
	var problems []string
	var entrypoint *instructions.EntrypointCommand
	for _, c := range df.final().Commands {
		switch c := c.(type) {
		case *instructions.EntrypointCommand:
			entrypoint = c
		case *instructions.CmdCommand:
			if c.PrependShell {
				problems = append(problems, fmt.Sprintf("%s: CMD is in shell form", at(c)))
			}
		}
	}
	switch {
	case entrypoint == nil:
		problems = append(problems, "the final stage has no ENTRYPOINT")
	case entrypoint.PrependShell:
		problems = append(problems, fmt.Sprintf("%s: ENTRYPOINT is in shell form; it needs a shell in the image and keeps signals from the binary", at(entrypoint)))
	case len(entrypoint.CmdLine) == 0:
		problems = append(problems, fmt.Sprintf("%s: ENTRYPOINT is empty", at(entrypoint)))
	}
	return problems
}

func checkStaticBuild(df *dockerfile, _ *buildContext) []string {
	builds := df.goBuilds()
	if len(builds) == 0 {
		return []string{"no RUN runs go build"}
	}
	var problems []string
	for _, r := range builds {
		vars, _ := df.vars(r)
		if v, ok := vars["CGO_ENABLED"]; !ok || v != "0" {
			problems = append(problems, fmt.Sprintf("%s: go build runs with CGO_ENABLED=%q; a binary for a distroless static image needs CGO_ENABLED=0", at(r.cmd), v))
		}
	}
	return problems
}

func checkCrossCompile(df *dockerfile, _ *buildContext) []string {
	var problems []string
	for _, r := range df.goBuilds() {
		vars, declared := df.vars(r)
		if !refersTo(vars["GOARCH"], "TARGETARCH") {
			problems = append(problems, fmt.Sprintf("%s: GOARCH is %q, not $TARGETARCH, so a multi-platform build gives every platform the same binary", at(r.cmd), vars["GOARCH"]))
		}
		for _, name := range []string{"TARGETARCH", "TARGETOS"} {
			if (refersTo(r.text, name) || refersTo(vars["GOARCH"], name) || refersTo(vars["GOOS"], name)) && !declared[name] {
				problems = append(problems, fmt.Sprintf("%s: $%s is used but ARG %s is not declared in the stage before it, so it is empty", at(r.cmd), name, name))
			}
		}
		if goos, ok := vars["GOOS"]; ok && goos != "linux" && !refersTo(goos, "TARGETOS") {
			problems = append(problems, fmt.Sprintf("%s: GOOS is %q", at(r.cmd), goos))
		}
		if !refersTo(df.stages[r.stage].Platform, "BUILDPLATFORM") {
			problems = append(problems, fmt.Sprintf("stage %q builds with go but is not FROM --platform=$BUILDPLATFORM, so buildx runs the compiler under emulation", df.stages[r.stage].Name))
		}
	}
	return problems
}

// checkModuleCache wants go.mod and go.sum copied, then go mod download with
// the module cache mounted, before any other source is copied (so a source
// change keeps the download layer), and go build with both caches mounted.
func checkModuleCache(df *dockerfile, _ *buildContext) []string {
	var problems []string
	for _, r := range df.goBuilds() {
		vars, _ := df.vars(r)
		modCache, buildCache := "/go/pkg/mod", "/root/.cache/go-build"
		if v := vars["GOMODCACHE"]; v != "" {
			modCache = v
		}
		if v := vars["GOCACHE"]; v != "" {
			buildCache = v
		}
		if !hasCacheMount(r.cmd, modCache) {
			problems = append(problems, fmt.Sprintf("%s: go build has no cache mount on %s", at(r.cmd), modCache))
		}
		if !hasCacheMount(r.cmd, buildCache) {
			problems = append(problems, fmt.Sprintf("%s: go build has no cache mount on %s (the go-build cache)", at(r.cmd), buildCache))
		}
		// The download: a RUN before the build in the same stage.
		var download *instructions.RunCommand
		var copiedBefore []string
		for _, c := range df.stages[r.stage].Commands[:r.index] {
			switch c := c.(type) {
			case *instructions.RunCommand:
				if download == nil && goModDownRE.MatchString(strings.Join(c.CmdLine, " ")) {
					download = c
					if !hasCacheMount(c, modCache) {
						problems = append(problems, fmt.Sprintf("%s: go mod download has no cache mount on %s", at(c), modCache))
					}
					for _, src := range copiedBefore {
						if src != "go.mod" && src != "go.sum" {
							problems = append(problems, fmt.Sprintf("%s: %s is copied before go mod download, so every change to it downloads the modules again", at(c), src))
						}
					}
				}
			case *instructions.CopyCommand:
				if c.From == "" && download == nil {
					for _, src := range c.SourcePaths {
						copiedBefore = append(copiedBefore, path.Clean(src))
					}
				}
			}
		}
		if download == nil {
			problems = append(problems, fmt.Sprintf("%s: no go mod download runs before go build in its stage", at(r.cmd)))
		}
	}
	return problems
}

func hasCacheMount(r *instructions.RunCommand, target string) bool {
	for _, m := range instructions.GetMounts(r) {
		if m.Type == instructions.MountTypeCache && path.Clean(m.Target) == path.Clean(target) {
			return true
		}
	}
	return false
}

// checkEntrypointBinary follows ENTRYPOINT's program back through COPY
// --from to a go build -o in that stage.
func checkEntrypointBinary(df *dockerfile, _ *buildContext) []string {
	var program string
	for _, c := range df.final().Commands {
		if e, ok := c.(*instructions.EntrypointCommand); ok && !e.PrependShell && len(e.CmdLine) > 0 {
			program = e.CmdLine[0]
		}
	}
	if program == "" {
		return []string{"no exec-form ENTRYPOINT in the final stage"}
	}
	final := len(df.stages) - 1
	for _, c := range df.final().Commands {
		cp, ok := c.(*instructions.CopyCommand)
		if !ok || cp.From == "" {
			continue
		}
		from := df.stageRef(cp.From, final)
		if from < 0 {
			continue
		}
		for _, src := range cp.SourcePaths {
			dst := cp.DestPath
			if len(cp.SourcePaths) > 1 || strings.HasSuffix(dst, "/") {
				dst = path.Join(dst, path.Base(src))
			}
			if path.Clean(dst) != path.Clean(program) {
				continue
			}
			for _, r := range df.goBuilds() {
				for _, m := range outputRE.FindAllStringSubmatch(r.text, -1) {
					if r.stage == from && path.Clean(strings.Trim(m[1], `"'`)) == path.Clean(src) {
						return nil
					}
				}
			}
			return []string{fmt.Sprintf("%s: %s comes from %s in stage %q, which no go build -o writes", at(cp), program, src, df.stages[from].Name)}
		}
	}
	return []string{fmt.Sprintf("ENTRYPOINT runs %s, which no COPY --from of a build stage puts there", program)}
}

func checkNoRemoteAdd(df *dockerfile, _ *buildContext) []string {
	var problems []string
	for _, st := range df.stages {
		for _, c := range st.Commands {
			if a, ok := c.(*instructions.AddCommand); ok {
				for _, src := range a.SourcePaths {
					if remoteSourceRE.MatchString(src) {
						problems = append(problems, fmt.Sprintf("%s: ADD %s fetches from the network at build time; fetch it in a RUN with a checksum, or vendor it", at(a), src))
					}
				}
			}
		}
	}
	return problems
}

// splitImageRef splits name[:tag][@digest].
func splitImageRef(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	return ref, tag, digest
}

func pinProblem(where, ref string) []string {
	if strings.Contains(ref, "$") {
		return []string{fmt.Sprintf("%s: %s cannot be resolved", where, ref)}
	}
	_, tag, digest := splitImageRef(ref)
	switch {
	case tag == "" && digest == "":
		return []string{fmt.Sprintf("%s: %s has no tag, so it means latest", where, ref)}
	case tag == "latest":
		return []string{fmt.Sprintf("%s: %s uses the latest tag", where, ref)}
	}
	return nil
}

func checkNoLatest(df *dockerfile, _ *buildContext) []string {
	var problems []string
	if df.syntax != "" {
		problems = append(problems, pinProblem("# syntax", df.syntax)...)
	}
	for i, st := range df.stages {
		base := df.expand(st.BaseName, df.metaEnv())
		if base != "scratch" && df.stageRef(base, i) < 0 {
			problems = append(problems, pinProblem(fmt.Sprintf("stage %d FROM", i), base)...)
		}
		for n, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if from := df.expand(c.From, df.stageEnv(i, n)); from != "" && df.stageRef(from, i) < 0 && !isStageIndex(from) {
					problems = append(problems, pinProblem(at(c)+": COPY --from", from)...)
				}
			case *instructions.RunCommand:
				for _, m := range instructions.GetMounts(c) {
					if m.From != "" && df.stageRef(m.From, i) < 0 && !isStageIndex(m.From) {
						problems = append(problems, pinProblem(at(c)+": RUN --mount from", m.From)...)
					}
				}
			}
		}
	}
	return problems
}

func isStageIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func checkCopyFrom(df *dockerfile, _ *buildContext) []string {
	var problems []string
	for i, st := range df.stages {
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" && df.stageRef(c.From, i) < 0 {
					problems = append(problems, fmt.Sprintf("%s: COPY --from=%s names no stage defined before it", at(c), c.From))
				}
			case *instructions.RunCommand:
				for _, m := range instructions.GetMounts(c) {
					if m.From != "" && df.stageRef(m.From, i) < 0 {
						problems = append(problems, fmt.Sprintf("%s: RUN --mount from=%s names no stage defined before it", at(c), m.From))
					}
				}
			}
		}
	}
	return problems
}

// contextSources lists the local sources of a COPY or ADD, or nil for one
// from another stage or image.
func contextSources(c instructions.Command) []string {
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From == "" {
			return c.SourcePaths
		}
	case *instructions.AddCommand:
		var local []string
		for _, src := range c.SourcePaths {
			if !remoteSourceRE.MatchString(src) {
				local = append(local, src)
			}
		}
		return local
	}
	return nil
}

func checkContextSources(df *dockerfile, bc *buildContext) []string {
	var problems []string
	for i, st := range df.stages {
		for n, c := range st.Commands {
			for _, src := range contextSources(c) {
				matches, err := bc.glob(df.expand(src, df.stageEnv(i, n)))
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s: %v", at(c), err))
					continue
				}
				if len(matches) == 0 {
					problems = append(problems, fmt.Sprintf("%s: %s does not exist in the repository", at(c), src))
				}
				for _, m := range matches {
					if bc.ignored(m) {
						problems = append(problems, fmt.Sprintf("%s: .dockerignore excludes %s, which is copied", at(c), m))
					}
				}
			}
		}
	}
	return problems
}

func checkLabels(df *dockerfile, bc *buildContext) []string {
	final := len(df.stages) - 1
	labels := map[string]string{}
	for n, c := range df.final().Commands {
		if l, ok := c.(*instructions.LabelCommand); ok {
			for _, kv := range l.Labels {
				labels[kv.Key] = df.expand(kv.Value, df.stageEnv(final, n))
			}
		}
	}
	var problems []string
	for _, key := range []string{"source", "title", "description"} {
		if labels["org.opencontainers.image."+key] == "" {
			problems = append(problems, fmt.Sprintf("the final stage has no org.opencontainers.image.%s label", key))
		}
	}
	if src := labels["org.opencontainers.image.source"]; src != "" && !strings.HasPrefix(src, "https://") {
		problems = append(problems, fmt.Sprintf("org.opencontainers.image.source is %q, not an https URL", src))
	}
	licenseFiles, _ := bc.glob("[Ll][Ii][Cc][Ee][Nn][CcSs][Ee]*")
	copying, _ := bc.glob("[Cc][Oo][Pp][Yy][Ii][Nn][Gg]*")
	licenseFiles = append(licenseFiles, copying...)
	_, hasLabel := labels["org.opencontainers.image.licenses"]
	switch {
	case len(licenseFiles) > 0 && !hasLabel:
		problems = append(problems, fmt.Sprintf("the repository has %s but the image has no org.opencontainers.image.licenses label", strings.Join(licenseFiles, ", ")))
	case len(licenseFiles) == 0 && hasLabel:
		problems = append(problems, "org.opencontainers.image.licenses is set but the repository has no LICENSE file to back it")
	}
	return problems
}

// goPackage is what go list -json tells about a package.
type goPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	EmbedFiles []string
	Module     *struct{ Main bool }
}

// goListDeps lists the packages of this module that the binary is built
// from, for one platform, as the image build compiles it.
func goListDeps(t *testing.T, goCmd, root, platform string) []goPackage {
	t.Helper()
	goos, goarch, _ := strings.Cut(platform, "/")
	cmd := exec.Command(goCmd, "list", "-deps", "-json=ImportPath,Dir,GoFiles,EmbedFiles,Module", binaryPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", binaryPackage, err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Module != nil && p.Module.Main {
			if dir, err := filepath.EvalSymlinks(p.Dir); err == nil {
				p.Dir = dir
			}
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list -deps %s found no package of this module", binaryPackage)
	}
	return pkgs
}

// copyMapping is a COPY from the build context: src (slash-separated,
// relative to the context, "." for all of it) lands at dst in the image. A
// directory's contents land in dst.
type copyMapping struct {
	src, dst string
	dir      bool
}

// layout follows stage i (and the stages it is FROM) up to its command n:
// what it copied from the context where, the working directory then, and
// what the model here cannot follow.
func (df *dockerfile) layout(bc *buildContext, i, n int) (maps []copyMapping, cwd string, problems []string) {
	cwd = "/"
	if j := df.stageRef(df.expand(df.stages[i].BaseName, df.metaEnv()), i); j >= 0 {
		maps, cwd, problems = df.layout(bc, j, len(df.stages[j].Commands))
	}
	for k, c := range df.stages[i].Commands[:n] {
		env := df.stageEnv(i, k)
		switch c := c.(type) {
		case *instructions.WorkdirCommand:
			if p := df.expand(c.Path, env); path.IsAbs(p) {
				cwd = path.Clean(p)
			} else {
				cwd = path.Join(cwd, p)
			}
		case *instructions.CopyCommand, *instructions.AddCommand:
			srcs := contextSources(c)
			if len(srcs) == 0 {
				continue
			}
			if cp, ok := c.(*instructions.CopyCommand); ok && (cp.Parents || len(cp.ExcludePatterns) > 0) {
				problems = append(problems, fmt.Sprintf("%s: COPY --parents and --exclude are not modelled by this test", at(c)))
			}
			var dest string
			switch c := c.(type) {
			case *instructions.CopyCommand:
				dest = c.DestPath
			case *instructions.AddCommand:
				dest = c.DestPath
			}
			dest = df.expand(dest, env)
			dstIsDir := strings.HasSuffix(dest, "/") || dest == "." || len(srcs) > 1
			if !path.IsAbs(dest) {
				dest = path.Join(cwd, dest)
			}
			dest = path.Clean(dest)
			var matches []string
			for _, src := range srcs {
				m, err := bc.glob(df.expand(src, env))
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s: %v", at(c), err))
				}
				matches = append(matches, m...)
			}
			if len(matches) > 1 {
				dstIsDir = true
			}
			for _, m := range matches {
				info, err := os.Stat(filepath.Join(bc.root, filepath.FromSlash(m)))
				switch {
				case err != nil:
					problems = append(problems, fmt.Sprintf("%s: %v", at(c), err))
				case info.IsDir():
					maps = append(maps, copyMapping{src: m, dst: dest, dir: true})
				case dstIsDir:
					maps = append(maps, copyMapping{src: m, dst: path.Join(dest, path.Base(m))})
				default:
					maps = append(maps, copyMapping{src: m, dst: dest})
				}
			}
		}
	}
	return maps, cwd, problems
}

// imagePath is where the context file rel ends up, by the last COPY that
// covers it.
func imagePath(maps []copyMapping, rel string) (string, bool) {
	for k := len(maps) - 1; k >= 0; k-- {
		m := maps[k]
		switch {
		case m.dir && m.src == ".":
			return path.Join(m.dst, rel), true
		case m.dir && strings.HasPrefix(rel, m.src+"/"):
			return path.Join(m.dst, strings.TrimPrefix(rel, m.src+"/")), true
		case rel == m.src:
			return m.dst, true
		}
	}
	return "", false
}

// coverageProblems checks that the stage that builds binaryPackage has
// go.mod, go.sum and every file of pkgs (this module's packages) at their
// places under the module root, runs go build there, and that .dockerignore
// drops none of those files.
func coverageProblems(df *dockerfile, bc *buildContext, pkgs []goPackage) []string {
	target := regexp.MustCompile(`(?:^|\s)` + regexp.QuoteMeta(binaryPackage) + `/?(?:\s|$)`)
	var build *run
	for _, r := range df.goBuilds() {
		if target.MatchString(r.text) {
			build = &r
			break
		}
	}
	if build == nil {
		return []string{"no RUN builds " + binaryPackage + " with go build"}
	}
	maps, cwd, problems := df.layout(bc, build.stage, build.index)
	mod, ok := imagePath(maps, "go.mod")
	if !ok {
		return append(problems, fmt.Sprintf("stage %q does not copy go.mod before %s", df.stages[build.stage].Name, at(build.cmd)))
	}
	modRoot := path.Dir(mod)
	if cwd != modRoot {
		problems = append(problems, fmt.Sprintf("%s: go build runs in %s, but the module (go.mod) is at %s", at(build.cmd), cwd, modRoot))
	}
	need := []struct{ file, pkg string }{{"go.mod", "the module"}, {"go.sum", "the module"}}
	for _, p := range pkgs {
		dir, err := filepath.Rel(bc.root, p.Dir)
		if err != nil || strings.HasPrefix(dir, "..") {
			problems = append(problems, fmt.Sprintf("package %s is in %s, outside the build context %s", p.ImportPath, p.Dir, bc.root))
			continue
		}
		for _, f := range append(append([]string(nil), p.GoFiles...), p.EmbedFiles...) {
			need = append(need, struct{ file, pkg string }{path.Join(filepath.ToSlash(dir), f), p.ImportPath})
		}
	}
	reported := map[string]bool{} // one problem per package
	for _, n := range need {
		var problem string
		want := path.Join(modRoot, n.file)
		switch got, ok := imagePath(maps, n.file); {
		case bc.ignored(n.file):
			problem = fmt.Sprintf(".dockerignore excludes %s (%s), which the build needs", n.file, n.pkg)
		case !ok:
			problem = fmt.Sprintf("%s is not copied into stage %q, but %s needs %s", path.Dir(n.file), df.stages[build.stage].Name, binaryPackage, n.pkg)
		case got != want:
			problem = fmt.Sprintf("%s (%s) is copied to %s, not %s", n.file, n.pkg, got, want)
		default:
			continue
		}
		if !reported[n.pkg] {
			reported[n.pkg] = true
			problems = append(problems, problem)
		}
	}
	return problems
}

// buildContext is the directory docker build sends, with its .dockerignore.
type buildContext struct {
	root   string
	ignore *patternmatcher.PatternMatcher // nil without a .dockerignore
}

func loadBuildContext(root string) (*buildContext, error) {
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	bc := &buildContext{root: root}
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return bc, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	if bc.ignore, err = patternmatcher.New(patterns); err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return bc, nil
}

// ignored tells whether .dockerignore keeps rel (slash-separated, relative to
// the context) out of the context.
func (bc *buildContext) ignored(rel string) bool {
	if bc.ignore == nil || rel == "." {
		return false
	}
	m, err := bc.ignore.MatchesOrParentMatches(rel)
	return err != nil || m
}

// glob resolves a COPY source to the context paths it names (slash-separated,
// relative to the context, "." for the whole context).
func (bc *buildContext) glob(src string) ([]string, error) {
	rel := path.Clean("/" + filepath.ToSlash(src))[1:]
	if rel == "" {
		rel = "."
	}
	if strings.Contains(src, "$") {
		return nil, fmt.Errorf("%s: unresolved variable", src)
	}
	matches, err := filepath.Glob(filepath.Join(bc.root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		r, err := filepath.Rel(bc.root, m)
		if err != nil {
			return nil, err
		}
		out = append(out, filepath.ToSlash(r))
	}
	return out, nil
}

// repoRoot is the directory of this module's go.mod, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				return real
			}
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
