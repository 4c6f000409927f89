// Package server is Coffer's HTTP server: the root mux that mounts every
// surface at its path, the middleware around them (request id, panic
// recovery, access log, metrics, body and time limits), the operational
// endpoints (/healthz, /readyz, /metrics) and graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coffer-pay/coffer/internal/metrics"
	"github.com/coffer-pay/coffer/internal/store"
)

// Surface is one part of the HTTP API mounted at a path pattern, with its
// own name (for metrics and logs), body limit and panic answer.
type Surface struct {
	Name    string
	Pattern string // a ServeMux pattern such as "/coffer/v1/"
	Handler http.Handler
	// MaxBody limits request bodies; 0 means 1 MiB.
	MaxBody int64
	// OnPanic writes the answer for a request whose handler panicked, in
	// the surface's own wire format. Nil writes a plain 500.
	OnPanic func(w http.ResponseWriter, r *http.Request)
	// QueryParam, if set, also sends to this surface every request for "/"
	// or "/index.php" that carries this query parameter, whatever is
	// mounted there (WordPress's /?rest_route=/… without pretty
	// permalinks). Pattern may then be empty.
	QueryParam string
}

// Options configure a Server.
type Options struct {
	Addr           string
	RequestTimeout time.Duration
	Logger         *slog.Logger
	Metrics        *metrics.Metrics
	Store          store.Store
	Surfaces       []Surface
}

// Server serves every surface.
type Server struct {
	opt     Options
	log     *slog.Logger
	handler http.Handler
	http    *http.Server
	ready   atomic.Bool
	idBase  string
	idSeq   atomic.Uint64
}

// New builds the server and its routes.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Metrics == nil {
		opt.Metrics = metrics.New()
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = 30 * time.Second
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &Server{opt: opt, log: opt.Logger, idBase: hex.EncodeToString(b[:])}
	s.ready.Store(true)

	mux := http.NewServeMux()
	ops := Surface{Name: "ops"}
	mux.Handle("GET /healthz", s.wrap(ops, http.HandlerFunc(s.healthz)))
	mux.Handle("GET /readyz", s.wrap(ops, http.HandlerFunc(s.readyz)))
	mux.Handle("GET /metrics", s.wrap(ops, opt.Metrics.Handler()))
	var byQuery []queryRoute
	for _, sf := range opt.Surfaces {
		h := s.wrap(sf, sf.Handler)
		if sf.Pattern != "" {
			mux.Handle(sf.Pattern, h)
		}
		if sf.QueryParam != "" {
			byQuery = append(byQuery, queryRoute{sf.QueryParam, h})
		}
	}
	mux.Handle("/", s.wrap(Surface{Name: "other"}, http.HandlerFunc(notFound)))
	s.handler = mux
	if len(byQuery) > 0 {
		s.handler = routeByQuery(byQuery, mux)
	}
	s.http = &http.Server{
		Addr:              opt.Addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       opt.RequestTimeout + 30*time.Second,
		WriteTimeout:      opt.RequestTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opt.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler is the root handler, for tests that use httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until ctx ends, then shuts down
// gracefully: it stops accepting, marks itself not ready, and waits up to
// grace for in-flight requests to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := map[string]string{"status": "ok", "database": "ok", "migrations": "ok"}
	code := http.StatusOK
	if !s.ready.Load() {
		status["status"], code = "shutting down", http.StatusServiceUnavailable
	}
	if s.opt.Store != nil {
		if err := s.opt.Store.Ping(ctx); err != nil {
			status["status"], status["database"], code = "unavailable", "unreachable", http.StatusServiceUnavailable
		} else if applied, known, err := s.opt.Store.SchemaVersion(ctx); err != nil || applied != known {
			status["status"], code = "unavailable", http.StatusServiceUnavailable
			status["migrations"] = fmt.Sprintf("%d of %d applied", applied, known)
		}
	}
	writeJSON(w, code, status)
}

// queryRoute sends requests for the site root carrying param to h.
type queryRoute struct {
	param string
	h     http.Handler
}

// routeByQuery puts the query-routed surfaces in front of the mux: only
// requests for "/" and "/index.php" pay for a look at the query string.
func routeByQuery(routes []queryRoute, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; (p == "/" || p == "/index.php") && r.URL.RawQuery != "" {
			q := r.URL.Query()
			for _, qr := range routes {
				if q.Has(qr.param) {
					qr.h.ServeHTTP(w, r)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "not_found", "message": "no such endpoint"}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.code, w.written = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the id the server gave the request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// wrap puts the middleware around one surface's handler.
func (s *Server) wrap(sf Surface, h http.Handler) http.Handler {
	maxBody := sf.MaxBody
	if maxBody == 0 {
		maxBody = 1 << 20
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = s.idBase + "-" + strconv.FormatUint(s.idSeq.Add(1), 36)
		}
		w.Header().Set("X-Request-Id", id)
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), requestIDKey, id), s.opt.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in handler", "surface", sf.Name, "method", r.Method, "path", r.URL.Path,
					"request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !sw.written {
					if sf.OnPanic != nil {
						sf.OnPanic(sw, r)
					} else {
						http.Error(sw, "internal error", http.StatusInternalServerError)
					}
				}
			}
			d := time.Since(start)
			if !sw.written {
				sw.code = http.StatusOK
			}
			s.opt.Metrics.ObserveRequest(sf.Name, sw.code, d)
			level := slog.LevelDebug
			if sw.code >= 500 {
				level = slog.LevelWarn
			}
			if s.log.Enabled(ctx, level) {
				// The query string is left out: some dialects carry secrets in it.
				s.log.LogAttrs(context.Background(), level, "request", slog.String("surface", sf.Name),
					slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.code),
					slog.Duration("took", d), slog.String("request_id", id))
			}
		}()
		h.ServeHTTP(sw, r)
	})
}
