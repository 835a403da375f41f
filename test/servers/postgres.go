package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresBinDirEnv names the environment variable that, when set, tells
// StartPostgres where initdb and postgres are.
const PostgresBinDirEnv = "STRATUS_PG_BINDIR"

// PostgresUser is the superuser StartPostgres creates.
const PostgresUser = "postgres"

// PostgresOptions configures StartPostgres. The zero value runs a throw-away
// cluster on a free port with a generated password.
type PostgresOptions struct {
	// DataDir holds the cluster (pgdata/), the superuser's password
	// (superuser-password) and the log (postgres.log), and is kept by Stop;
	// a cluster already there is started again with its saved password.
	// Empty means a new temporary directory that Stop removes. When running
	// as root the postgres OS user must be able to reach it.
	DataDir string
	// Port is the loopback port; 0 picks a free port.
	Port int
	// Password is the superuser's password for a new cluster; empty means a
	// random one.
	Password string
	// BinDir holds initdb and postgres. Empty means $STRATUS_PG_BINDIR, else
	// the newest /usr/lib/postgresql/*/bin (Debian, Ubuntu), else the
	// directory of initdb on PATH.
	BinDir string
	// Durable keeps fsync and synchronous commits on. Off by default, which
	// is faster and loses data only if the machine itself crashes.
	Durable bool
	// StartTimeout bounds initdb and the wait for the server to accept
	// connections; 0 means 60s.
	StartTimeout time.Duration
}

// PostgresServer is a running PostgreSQL cluster that accepts password
// (scram-sha-256) connections on loopback TCP and trusted connections on its
// Unix socket.
type PostgresServer struct {
	// Host is the loopback address the server listens on, 127.0.0.1.
	Host string
	// Port is the TCP port.
	Port int
	// User is the superuser, PostgresUser.
	User string
	// Password is the superuser's password.
	Password string
	// DataDir is the directory holding the cluster, password and log.
	DataDir string
	// SocketDir holds the server's Unix socket.
	SocketDir string
	// LogFile is the server's output.
	LogFile string

	proc     *process
	tempDir  bool
	stopOnce sync.Once
	stopErr  error
}

// DSN returns a pgx-compatible URL for database postgres as the superuser.
func (s *PostgresServer) DSN() string {
	return s.DatabaseDSN("postgres")
}

// DatabaseDSN returns a pgx-compatible URL for the named database as the
// superuser.
func (s *PostgresServer) DatabaseDSN(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.User, s.Password),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// StartPostgres creates a cluster with initdb (unless DataDir already holds
// one), starts postgres on loopback and waits until it accepts connections.
// When running as root, both run as the postgres OS user, which PostgreSQL
// requires. ctx bounds the start-up only. Call Stop when done.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*PostgresServer, error) {
	binDir, err := postgresBinDir(opts.BinDir)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	var runAs *osUser
	if os.Geteuid() == 0 {
		if runAs, err = lookupUser("postgres"); err != nil {
			return nil, fmt.Errorf("start postgres: PostgreSQL refuses to run as root and: %w", err)
		}
	}

	s := &PostgresServer{Host: "127.0.0.1", User: PostgresUser, DataDir: opts.DataDir}
	if s.DataDir == "" {
		dir, err := os.MkdirTemp("", "stratus-pg-")
		if err != nil {
			return nil, fmt.Errorf("start postgres: create data dir: %w", err)
		}
		s.DataDir, s.tempDir = dir, true
	} else if s.DataDir, err = filepath.Abs(s.DataDir); err != nil {
		return nil, fmt.Errorf("start postgres: data dir: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop()
		}
	}()
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	// A short socket directory of its own: a Unix socket path is limited to
	// 107 bytes, and a kept DataDir may be deep.
	if s.SocketDir, err = os.MkdirTemp("", "stratus-pgsock-"); err != nil {
		return nil, fmt.Errorf("start postgres: create socket dir: %w", err)
	}
	if runAs != nil {
		if err := checkTraversable(s.DataDir, runAs); err != nil {
			return nil, fmt.Errorf("start postgres: data dir %s: %w", s.DataDir, err)
		}
		for _, d := range []string{s.DataDir, s.SocketDir} {
			if err := os.Chown(d, int(runAs.uid), int(runAs.gid)); err != nil {
				return nil, fmt.Errorf("start postgres: give %s to user postgres: %w", d, err)
			}
		}
	}
	s.LogFile = filepath.Join(s.DataDir, "postgres.log")
	pgdata := filepath.Join(s.DataDir, "pgdata")
	passwordFile := filepath.Join(s.DataDir, "superuser-password")

	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err == nil {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("start postgres: existing cluster in %s: read its password: %w", pgdata, err)
		}
		s.Password = strings.TrimSpace(string(b))
	} else {
		s.Password = opts.Password
		if s.Password == "" {
			s.Password = randomString(16)
		}
		if err := os.WriteFile(passwordFile, []byte(s.Password+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("start postgres: save password: %w", err)
		}
		if err := s.initdb(ctx, binDir, pgdata, passwordFile, runAs, opts.Durable); err != nil {
			return nil, err
		}
	}

	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("start postgres: %w", err)
			}
		}
		err = s.start(ctx, binDir, pgdata, port, runAs, opts.Durable)
		if err == nil {
			break
		}
		if opts.Port != 0 || attempt == 3 || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// initdb creates the cluster: superuser postgres with the password in
// passwordFile, scram-sha-256 over TCP, trust over the Unix socket.
func (s *PostgresServer) initdb(ctx context.Context, binDir, pgdata, passwordFile string, runAs *osUser, durable bool) error {
	if runAs != nil {
		// initdb reads the password file as the postgres user.
		if err := os.Chown(passwordFile, int(runAs.uid), int(runAs.gid)); err != nil {
			return fmt.Errorf("initdb: give %s to user postgres: %w", passwordFile, err)
		}
	}
	args := []string{
		"-D", pgdata,
		"-U", PostgresUser,
		"--pwfile=" + passwordFile,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
	}
	if !durable {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.Dir = s.DataDir
	cmd.Env = postgresEnv()
	proc, err := startProcess("initdb", cmd, s.LogFile, runAs)
	if err != nil {
		return err
	}
	<-proc.done
	if proc.waitErr != nil {
		return fmt.Errorf("initdb: %w; log %s ends with:\n%s", proc.waitErr, s.LogFile, logTail(s.LogFile))
	}
	return nil
}

// start runs postgres on port and waits until it accepts a password login.
func (s *PostgresServer) start(ctx context.Context, binDir, pgdata string, port int, runAs *osUser, durable bool) error {
	args := []string{
		"-D", pgdata,
		"-p", strconv.Itoa(port),
		"-k", s.SocketDir,
		"-c", "listen_addresses=127.0.0.1",
	}
	if !durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = s.DataDir
	cmd.Env = postgresEnv()
	proc, err := startProcess("postgres", cmd, s.LogFile, runAs)
	if err != nil {
		return err
	}
	s.proc, s.Port = proc, port

	err = proc.waitReady(ctx, 0, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.DSN())
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		return conn.Ping(ctx)
	})
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 0)
		s.proc = nil
		if proc.outputContains("could not bind", "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("start postgres on port %d: %w", port, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 10s) and
// removes the data directory when StartPostgres created it. It is safe to
// call more than once.
func (s *PostgresServer) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.proc != nil {
			if err := s.proc.stop(syscall.SIGINT, 10*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if s.SocketDir != "" {
			if err := os.RemoveAll(s.SocketDir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", s.SocketDir, err))
			}
		}
		if s.tempDir {
			if err := os.RemoveAll(s.DataDir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", s.DataDir, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.stopErr = fmt.Errorf("stop postgres: %w", err)
		}
	})
	return s.stopErr
}

// postgresEnv is the environment of initdb and postgres: the parent's, less
// the PG* variables that would change their behaviour, with the C locale.
func postgresEnv() []string {
	return childEnv(func(name string) bool {
		return strings.HasPrefix(name, "PG") || strings.HasPrefix(name, "LC_") || name == "LANG"
	}, "LC_ALL=C")
}

// postgresBinDir finds the directory holding initdb and postgres.
func postgresBinDir(explicit string) (string, error) {
	var candidates []string
	switch {
	case explicit != "":
		candidates = []string{explicit}
	case os.Getenv(PostgresBinDirEnv) != "":
		candidates = []string{os.Getenv(PostgresBinDirEnv)}
	default:
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		// Newest major version first: compare numerically, 15 after 9.6.
		slices.SortFunc(dirs, func(a, b string) int {
			return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
		})
		candidates = dirs
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			candidates = append(candidates, filepath.Dir(p))
		}
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, postgres) in %v: install them "+
		"(`apt-get install -y postgresql`, or run `bash test/tools/install.sh`) or set %s",
		candidates, PostgresBinDirEnv)
}

// compareVersions compares dotted version numbers numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}
