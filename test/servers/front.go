package servers

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/stratus-operator/stratus/test/faults"
)

// front serves a shim on a loopback port, behind a fault injector.
type front struct {
	http     *http.Server
	faults   *faults.Injector
	endpoint string
}

// serveFront serves h on port (0: a free one).
func serveFront(h http.Handler, port int) (*front, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	f := &front{faults: &faults.Injector{}, endpoint: "http://" + l.Addr().String()}
	f.http = &http.Server{Handler: f.faults.Wrap(h), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = f.http.Serve(l) }()
	return f, nil
}

// stop shuts the front down, giving requests in flight 5 seconds.
func (f *front) stop() {
	if f == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.http.Shutdown(ctx); err != nil {
		_ = f.http.Close()
	}
}
