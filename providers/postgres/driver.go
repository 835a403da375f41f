package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Defaults of a driver's connection pool.
const (
	// defaultMaxConns bounds the connections one ProviderConfig opens to the
	// server: a reconcile makes a few short statements at a time.
	defaultMaxConns = 4
	// defaultConnectTimeout bounds establishing one connection.
	defaultConnectTimeout = 10 * time.Second
)

// Defaults of the PostgreSQL connection block, as the CRD defaults them.
const (
	defaultPort          = 5432
	defaultSSLMode       = "prefer"
	defaultAdminDatabase = "postgres"
)

// Keys of the ProviderConfig's credentials Secret.
const (
	CredentialsUsernameKey = "username"
	CredentialsPasswordKey = "password"
)

// options configure a driver.
type options struct {
	maxConns       int32
	connectTimeout time.Duration
}

// Option configures the driver NewDatabaseDriver returns.
type Option func(*options)

// WithMaxConns sets the most connections a client opens to the server;
// values below 1 are ignored. The default is 4.
func WithMaxConns(n int32) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// WithConnectTimeout bounds establishing each connection; values of zero or
// less are ignored. The default is 10s.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.connectTimeout = d
		}
	}
}

// NewDatabaseDriver returns the driver that manages a Database as a database
// and its owner role on the PostgreSQL server a ProviderConfig names. The
// registration generates the owner's password (driver.GeneratePassword).
func NewDatabaseDriver(opts ...Option) driver.Registration[*databasev1alpha1.Database] {
	o := options{maxConns: defaultMaxConns, connectTimeout: defaultConnectTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	connect := func(ctx context.Context, cfg driver.Config) (driver.Client[*databasev1alpha1.Database], error) {
		c, err := connect(ctx, cfg, o)
		if err != nil {
			return nil, err // not a nil *client in a non-nil interface
		}
		return c, nil
	}
	return driver.Registration[*databasev1alpha1.Database]{
		Driver:              driver.DriverFunc[*databasev1alpha1.Database](connect),
		GenerateCredentials: driver.GeneratePassword,
	}
}

// server is where the admin connects, with the CRD's defaults applied.
type server struct {
	host          string
	port          int32
	sslMode       string
	adminDatabase string
}

// address is host:port, for messages.
func (s server) address() string {
	return net.JoinHostPort(s.host, strconv.Itoa(int(s.port)))
}

// connect opens a pool to the server cfg names and pings it once.
func connect(ctx context.Context, cfg driver.Config, o options) (*client, error) {
	if cfg.Spec.Provider != "" && cfg.Spec.Provider != stratusv1alpha1.ProviderPostgreSQL {
		return nil, driver.Terminalf("cannot connect: the provider configuration is for provider %s, not PostgreSQL", cfg.Spec.Provider)
	}
	pg := cfg.Spec.PostgreSQL
	if pg == nil || pg.Host == "" {
		return nil, driver.Terminalf("cannot connect: the provider configuration has no spec.postgresql.host: set it to the PostgreSQL server's address")
	}
	srv := server{host: pg.Host, port: pg.Port, sslMode: pg.SSLMode, adminDatabase: pg.AdminDatabase}
	if srv.port == 0 {
		srv.port = defaultPort
	}
	if srv.sslMode == "" {
		srv.sslMode = defaultSSLMode
	}
	if srv.adminDatabase == "" {
		srv.adminDatabase = defaultAdminDatabase
	}
	var user, password string
	for _, cred := range []struct {
		key string
		dst *string
	}{{CredentialsUsernameKey, &user}, {CredentialsPasswordKey, &password}} {
		v := cfg.Credentials[cred.key]
		if len(v) == 0 {
			// The Secret can be fixed at any time: retry with backoff.
			return nil, driver.BadCredentials(fmt.Errorf("cannot connect to PostgreSQL server %s: the credentials Secret has no key %q: add the admin user's %s under it", srv.address(), cred.key, cred.key))
		}
		*cred.dst = string(v)
	}

	dsn := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     srv.address(),
		Path:     "/" + srv.adminDatabase,
		RawPath:  "/" + url.PathEscape(srv.adminDatabase),
		RawQuery: url.Values{"sslmode": {srv.sslMode}}.Encode(),
	}
	poolCfg, err := pgxpool.ParseConfig(dsn.String())
	if err != nil {
		// The error may quote the connection string, password included.
		return nil, driver.Terminalf("cannot connect to PostgreSQL server %s: invalid connection settings (host, port, sslMode, adminDatabase)", srv.address())
	}
	poolCfg.MaxConns = o.maxConns
	poolCfg.ConnConfig.ConnectTimeout = o.connectTimeout
	poolCfg.ConnConfig.RuntimeParams["application_name"] = "stratus"
	poolCfg.ConnConfig.Tracer = callTracer{} // counts every statement

	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL server %s: %w", srv.address(), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, classify(err, fmt.Sprintf("cannot connect to PostgreSQL server %s as %q", srv.address(), user), "")
	}
	return &client{pool: pool, server: srv, adminUser: user}, nil
}

// client manages databases on one server. It implements io.Closer.
type client struct {
	pool      *pgxpool.Pool
	server    server
	adminUser string
}

var _ driver.Client[*databasev1alpha1.Database] = (*client)(nil)

// Close closes the connection pool.
func (c *client) Close() error {
	c.pool.Close()
	return nil
}

// errNoPassword is returned when the connection Secret lacks the owner's
// password, which the reconciler generates before Create.
var errNoPassword = errors.New("the connection Secret has no password for the owner role (the reconciler generates one before Create)")
