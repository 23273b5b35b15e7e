package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })

func TestOffReturnsHandlerUnchanged(t *testing.T) {
	tr, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Fatal("tracing on by default")
	}
	// The very same handler comes back: nothing wraps it.
	if got := tr.HTTP("x", ok); reflect.ValueOf(got).Pointer() != reflect.ValueOf(ok).Pointer() {
		t.Fatalf("tracing off wrapped the handler: %T", got)
	}
	if tr.UnaryInterceptor(func(any) map[string]string { return nil }) != nil {
		t.Error("interceptor installed with tracing off")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestHTTPSpanContinuesIncomingTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := NewWithProcessor(rec, Config{Enabled: true, SampleRatio: 0})
	h := tr.HTTP("gatehouse.check", ok)

	req := httptest.NewRequest("GET", "/authz/forward-auth", nil)
	// A sampled parent from the proxy: the span is recorded even at ratio 0.
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("recorded %d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "gatehouse.check" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	if s.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("parent = %v, want the incoming traceparent", s.Parent())
	}
	var status int64
	for _, a := range s.Attributes() {
		if a.Key == "http.response.status_code" {
			status = a.Value.AsInt64()
		}
	}
	if status != 403 {
		t.Errorf("status attribute = %d", status)
	}

	// Without a parent, ratio 0 records nothing.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if len(rec.Ended()) != 1 {
		t.Error("unsampled root span recorded")
	}
}

func TestUnaryInterceptorUsesProxiedHeaders(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := NewWithProcessor(rec, Config{Enabled: true, SampleRatio: 1})
	icpt := tr.UnaryInterceptor(func(req any) map[string]string { return req.(map[string]string) })
	_, err := icpt(context.Background(),
		map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		&grpc.UnaryServerInfo{FullMethod: "/envoy.service.auth.v3.Authorization/Check"},
		func(ctx context.Context, _ any) (any, error) {
			if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
				t.Error("handler context has no span")
			}
			return nil, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Parent().TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("spans = %v", spans)
	}
}

var _ sdktrace.SpanProcessor = tracetest.NewSpanRecorder()

// BenchmarkHTTPOff and BenchmarkHTTPOn show what tracing costs per request.
func BenchmarkHTTPOff(b *testing.B) {
	tr, _ := New(context.Background(), Config{})
	benchHandler(b, tr.HTTP("check", ok))
}

func BenchmarkHTTPOn(b *testing.B) {
	tr := NewWithProcessor(tracetest.NewSpanRecorder(), Config{Enabled: true, SampleRatio: 1})
	benchHandler(b, tr.HTTP("check", ok))
}

func benchHandler(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "/authz/forward-auth", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// TestShutdownFlushesAndLeavesNoGoroutine: Shutdown exports the spans not
// yet sent, then stops the exporter and closes its connections, so no
// goroutine of the tracer is left.
func TestShutdownFlushesAndLeavesNoGoroutine(t *testing.T) {
	var exports atomic.Int32
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer col.Close()
	ignore := goleak.IgnoreCurrent()
	tr, err := New(context.Background(), Config{Enabled: true, Endpoint: col.URL, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr.HTTP("x", ok).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exports.Load() != 1 {
		t.Fatalf("%d exports at shutdown, want 1", exports.Load())
	}
	if err := goleak.Find(ignore); err != nil {
		t.Fatalf("goroutines left after Shutdown: %v", err)
	}
}
