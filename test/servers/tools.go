package servers

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the Go module whose root RepoRoot looks for.
const ModulePath = "github.com/stratus-operator/stratus"

// ToolsDirEnv names the environment variable that, when set, overrides where
// ToolsDir looks for the built tools.
const ToolsDirEnv = "STRATUS_TOOLS_DIR"

// installHint tells the user how to build the tools.
const installHint = "run `bash test/tools/install.sh` from the repository root to build them"

// RepoRoot returns the repository root: the nearest directory, from the
// working directory upwards, whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for dir := wd; ; {
		if module, err := moduleOf(filepath.Join(dir, "go.mod")); err == nil && module == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod for module %s in %s or its parents", ModulePath, wd)
		}
		dir = parent
	}
}

// moduleOf returns the module path a go.mod file declares.
func moduleOf(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], "\"`"), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no module directive")
}

// ToolsDir returns the directory holding the built tools (versitygw,
// kube-apiserver, etcd, controller-gen): $STRATUS_TOOLS_DIR when set, else
// bin/tools under RepoRoot. It fails, saying how to build them, when the
// directory does not exist.
func ToolsDir() (string, error) {
	dir := os.Getenv(ToolsDirEnv)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", fmt.Errorf("locate tools: %w (or set %s)", err, ToolsDirEnv)
		}
		dir = filepath.Join(root, "bin", "tools")
	}
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("locate tools: %w; %s", err, installHint)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("locate tools: %s is not a directory; %s", dir, installHint)
	}
	return dir, nil
}

// Tool returns the path of the named executable in ToolsDir, failing with
// instructions when it has not been built.
func Tool(name string) (string, error) {
	dir, err := ToolsDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("locate %s: %w; %s", name, err, installHint)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("locate %s: %s is not an executable file; %s", name, path, installHint)
	}
	return path, nil
}
