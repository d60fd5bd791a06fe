package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long Serve lets in-flight requests finish after its
// context is done before it closes their connections.
const ShutdownGrace = 10 * time.Second

// NewHTTPServer returns an http.Server for h that speaks HTTP/1.1 and
// cleartext HTTP/2 (h2c with prior knowledge) on the same port, so gRPC
// clients work without TLS while browsers and curl keep HTTP/1.1. HTTP/2
// over TLS is enabled too, for a caller that sets TLSConfig.
func NewHTTPServer(h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:   h,
		Protocols: &p,
		// Bounds how long a client may hold a connection without sending
		// a request; no ReadTimeout or WriteTimeout, because streaming
		// RPCs may legitimately run long and queries have their own
		// deadlines.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// Serve serves h on ln until ctx is done, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish for up to
// ShutdownGrace, then closes what is left. It returns nil after a clean
// shutdown, and an error if serving failed or the grace period ran out.
// Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := NewHTTPServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Not derived from ctx: it is already done, and the grace period is
	// the point.
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func ListenAndServe(ctx context.Context, addr string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h)
}
