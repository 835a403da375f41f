package driver

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// Keys of a database's connection details, the same for every driver of
// Databases. Only the password, and the URI that holds it, are secret.
const (
	// ConnectionHost is the address of the database server.
	ConnectionHost = "host"
	// ConnectionPort is the server's port, in decimal.
	ConnectionPort = "port"
	// ConnectionUser is the user to connect as: the database's owner.
	ConnectionUser = "user"
	// ConnectionPassword is the user's password.
	ConnectionPassword = "password"
	// ConnectionDatabase is the name of the database.
	ConnectionDatabase = "database"
	// ConnectionSSLMode is the libpq sslmode to connect with.
	ConnectionSSLMode = "sslmode"
	// ConnectionURI is a URI holding all of the above, password included.
	ConnectionURI = "uri"
)

// generatedPasswordLength is the length of the passwords GeneratePassword
// makes: 32 alphanumeric characters, about 190 bits, within every engine's
// limit (RDS for MySQL allows 41).
const generatedPasswordLength = 32

// GeneratePassword returns new credentials holding only a password, under
// ConnectionPassword: 32 characters drawn uniformly from [A-Za-z0-9] with
// crypto/rand. It is the Registration.GenerateCredentials of the database
// drivers.
func GeneratePassword() (ConnectionDetails, error) {
	p, err := randomAlphanumeric(generatedPasswordLength)
	if err != nil {
		return nil, fmt.Errorf("cannot generate a password: %w", err)
	}
	return ConnectionDetails{ConnectionPassword: []byte(p)}, nil
}

// randomAlphanumeric returns n characters drawn uniformly from [A-Za-z0-9]
// with crypto/rand.
func randomAlphanumeric(n int) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// Bytes at or above the largest multiple of len(alphabet) are rejected,
	// so that every character is equally likely.
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// DatabaseConnection is what a client needs to connect to a database, from
// which Details makes the connection details. Fields that are not known yet
// are left empty.
type DatabaseConnection struct {
	// Scheme is the URI's scheme, such as postgresql or mysql.
	Scheme string
	// Host is the server's address, empty while the cloud has none; Port is
	// its port.
	Host string
	Port int32
	// User and Password are the credentials; Password is empty when it is
	// not known.
	User     string
	Password string
	// Database is the name of the database.
	Database string
	// SSLMode is the libpq sslmode published under ConnectionSSLMode, if
	// any.
	SSLMode string
	// URIQuery is the URI's query. When nil, it is sslmode=SSLMode, or
	// nothing when SSLMode is empty.
	URIQuery url.Values
}

// Details returns the connection details: ConnectionUser and
// ConnectionDatabase always; ConnectionSSLMode when SSLMode is set;
// ConnectionPassword when the password is known; ConnectionHost and
// ConnectionPort when the host is; and ConnectionURI when both are, as
// scheme://user:password@host:port/database?query with every part escaped.
func (c DatabaseConnection) Details() ConnectionDetails {
	d := ConnectionDetails{
		ConnectionUser:     []byte(c.User),
		ConnectionDatabase: []byte(c.Database),
	}
	if c.SSLMode != "" {
		d[ConnectionSSLMode] = []byte(c.SSLMode)
	}
	if c.Password != "" {
		d[ConnectionPassword] = []byte(c.Password)
	}
	if c.Host == "" {
		return d
	}
	port := strconv.Itoa(int(c.Port))
	d[ConnectionHost] = []byte(c.Host)
	d[ConnectionPort] = []byte(port)
	if c.Password == "" {
		return d
	}
	query := c.URIQuery
	if query == nil && c.SSLMode != "" {
		query = url.Values{"sslmode": {c.SSLMode}}
	}
	uri := url.URL{
		Scheme:   c.Scheme,
		User:     url.UserPassword(c.User, c.Password),
		Host:     net.JoinHostPort(c.Host, port),
		Path:     "/" + c.Database,
		RawPath:  "/" + url.PathEscape(c.Database),
		RawQuery: query.Encode(),
	}
	d[ConnectionURI] = []byte(uri.String())
	return d
}
