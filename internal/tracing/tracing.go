// Package tracing sets up OpenTelemetry tracing (OTLP over HTTP, off by
// default) and wraps gatehouse's HTTP and gRPC handlers in spans that
// continue the trace context the proxy sent (W3C traceparent). When tracing
// is off the wrappers return the handlers unchanged, so they cost nothing.
package tracing

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// Config configures tracing.
type Config struct {
	Enabled bool
	// Endpoint is the OTLP/HTTP collector base URL, e.g. http://otel-collector:4318.
	Endpoint string
	// SampleRatio is the share of new traces recorded (0..1); a trace
	// started upstream follows its parent's sampling decision.
	SampleRatio float64
	ServiceName string
	Version     string
}

// Tracer starts gatehouse's spans. The zero value and a Tracer made with
// tracing off do nothing.
type Tracer struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	shutdown func(context.Context) error
}

// New builds a Tracer. With cfg.Enabled false it returns a Tracer that does
// nothing and makes no connection.
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	if !cfg.Enabled {
		return &Tracer{}, nil
	}
	// The exporter's own transport, so that Shutdown can close its
	// connections: the default one would keep them (and their goroutines)
	// open after the exporter has stopped.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	opts := []otlptracehttp.Option{otlptracehttp.WithHTTPClient(&http.Client{Transport: transport})}
	if cfg.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(cfg.Endpoint+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	t := NewWithProcessor(sdktrace.NewBatchSpanProcessor(exp), cfg)
	flush := t.shutdown
	t.shutdown = func(ctx context.Context) error {
		defer transport.CloseIdleConnections()
		return flush(ctx)
	}
	return t, nil
}

// NewWithProcessor builds an enabled Tracer that hands finished spans to sp
// (tests pass an in-memory recorder).
func NewWithProcessor(sp sdktrace.SpanProcessor, cfg Config) *Tracer {
	name := cfg.ServiceName
	if name == "" {
		name = "gatehouse"
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(sdkresource.NewSchemaless(
			semconv.ServiceName(name), semconv.ServiceVersion(cfg.Version))),
	)
	return &Tracer{
		tracer:   tp.Tracer("github.com/gatehouse/gatehouse"),
		prop:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown: tp.Shutdown,
	}
}

// Enabled reports whether spans are recorded at all.
func (t *Tracer) Enabled() bool { return t != nil && t.tracer != nil }

// Shutdown flushes spans not yet exported, within ctx, and stops the
// exporter and its connections. Call it once, on every exit path.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.shutdown(ctx)
}

// HTTP wraps h in a server span named name that continues the incoming
// trace context. With tracing off it returns h itself.
func (t *Tracer) HTTP(name string, h http.Handler) http.Handler {
	if !t.Enabled() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
	})
}

// UnaryInterceptor returns a gRPC interceptor that starts a span per call.
// headers extracts the proxied request's headers from a call's message (for
// Envoy: attributes.request.http.headers), whose traceparent the span
// continues. With tracing off it returns nil: add it only when non-nil.
func (t *Tracer) UnaryInterceptor(headers func(req any) map[string]string) grpc.UnaryServerInterceptor {
	if !t.Enabled() {
		return nil
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if h := headers(req); h != nil {
			ctx = t.prop.Extract(ctx, propagation.MapCarrier(h))
		}
		ctx, span := t.tracer.Start(ctx, info.FullMethod, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		return handler(ctx, req)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
