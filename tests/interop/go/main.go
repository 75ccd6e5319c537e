// Command otlpapp exports a workload with the real OpenTelemetry Go SDK to a live
// `tracelogic serve` (tests/interop/test_go_sdk.py).
//
//	otlpapp JOB.json
//
// JOB.json, written by the test:
//
//	{"signal": "traces", "exporter": "grpc" | "http", "url": "...", "compression": "none" | "gzip",
//	 "batch": 40, "spans": [{"name", "trace_id", "span_id", "parent_id", "start_ns", "end_ns",
//	                          "kind", "status", "service", "attrs"}]}
//	{"signal": "metrics", "exporter": "grpc" | "http", "url": "...",
//	 "points": [{"service", "metric", "value", "attrs"}]}
//
// An empty "url" leaves the exporter to the standard OTEL_EXPORTER_OTLP_* variables.
// Spans are made by the SDK's own tracer (one TracerProvider per service resource), with the
// workload's ids through an IDGenerator, so the test can compare the stored violations with
// file mode over the same spans. The otlptracegrpc and otlptracehttp exporters then send the
// finished spans in batches, with retries off so that every refusal shows. Prints one JSON
// line with the export results; exits 1 if any export failed.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type spanJob struct {
	Name     string         `json:"name"`
	TraceID  string         `json:"trace_id"`
	SpanID   string         `json:"span_id"`
	ParentID string         `json:"parent_id"`
	StartNs  int64          `json:"start_ns"`
	EndNs    int64          `json:"end_ns"`
	Kind     string         `json:"kind"`
	Status   string         `json:"status"`
	Service  string         `json:"service"`
	Attrs    map[string]any `json:"attrs"`
}

type pointJob struct {
	Service string         `json:"service"`
	Metric  string         `json:"metric"`
	Value   float64        `json:"value"`
	Attrs   map[string]any `json:"attrs"`
}

type job struct {
	Signal      string     `json:"signal"`
	Exporter    string     `json:"exporter"`
	URL         string     `json:"url"`
	Compression string     `json:"compression"`
	Batch       int        `json:"batch"`
	Spans       []spanJob  `json:"spans"`
	Points      []pointJob `json:"points"`
}

var kinds = map[string]trace.SpanKind{
	"internal": trace.SpanKindInternal, "server": trace.SpanKindServer,
	"client": trace.SpanKindClient, "producer": trace.SpanKindProducer,
	"consumer": trace.SpanKindConsumer, "unspecified": trace.SpanKindInternal,
}

// workloadIDs hands the SDK the ids of the span being started.
type workloadIDs struct {
	traceID trace.TraceID
	spanID  trace.SpanID
}

func (g *workloadIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	return g.traceID, g.spanID
}

func (g *workloadIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return g.spanID }

func attrs(m map[string]any) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out = append(out, attribute.String(k, x))
		case bool:
			out = append(out, attribute.Bool(k, x))
		case json.Number:
			if i, err := x.Int64(); err == nil {
				out = append(out, attribute.Int64(k, i))
			} else if f, err := x.Float64(); err == nil {
				out = append(out, attribute.Float64(k, f))
			}
		default:
			out = append(out, attribute.String(k, fmt.Sprint(x)))
		}
	}
	return out
}

func traceID(s string) (trace.TraceID, error) {
	var id trace.TraceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bad trace id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

func spanID(s string) (trace.SpanID, error) {
	var id trace.SpanID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bad span id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

func traceExporter(ctx context.Context, j *job) (sdktrace.SpanExporter, error) {
	switch j.Exporter {
	case "grpc":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(20 * time.Second),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
		if j.URL != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(j.URL))
		}
		if j.Compression == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		return otlptracegrpc.New(ctx, opts...)
	case "http":
		opts := []otlptracehttp.Option{otlptracehttp.WithTimeout(20 * time.Second),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}
		if j.URL != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(j.URL))
		}
		if j.Compression == "gzip" {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("unknown trace exporter %q", j.Exporter)
}

func metricExporter(ctx context.Context, j *job) (sdkmetric.Exporter, error) {
	switch j.Exporter {
	case "grpc":
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithTimeout(20 * time.Second),
			otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false})}
		if j.URL != "" {
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(j.URL))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	case "http":
		opts := []otlpmetrichttp.Option{otlpmetrichttp.WithTimeout(20 * time.Second),
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false})}
		if j.URL != "" {
			opts = append(opts, otlpmetrichttp.WithEndpointURL(j.URL))
		}
		return otlpmetrichttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("unknown metric exporter %q", j.Exporter)
}

func result(err error) string {
	if err == nil {
		return "ok"
	}
	return "failed: " + err.Error()
}

func runTraces(ctx context.Context, j *job) (map[string]any, error) {
	ids := &workloadIDs{}
	memory := tracetest.NewInMemoryExporter()
	tracers := map[string]trace.Tracer{}
	var providers []*sdktrace.TracerProvider
	for _, s := range j.Spans {
		tracer, ok := tracers[s.Service]
		if !ok {
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", s.Service))),
				sdktrace.WithIDGenerator(ids),
				sdktrace.WithSampler(sdktrace.AlwaysSample()),
				sdktrace.WithSyncer(memory))
			providers = append(providers, tp)
			tracer = tp.Tracer("shop", trace.WithInstrumentationVersion("1.0"))
			tracers[s.Service] = tracer
		}
		tid, err := traceID(s.TraceID)
		if err != nil {
			return nil, err
		}
		sid, err := spanID(s.SpanID)
		if err != nil {
			return nil, err
		}
		parent := context.Background()
		if s.ParentID != "" {
			pid, err := spanID(s.ParentID)
			if err != nil {
				return nil, err
			}
			parent = trace.ContextWithSpanContext(parent, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: pid, TraceFlags: trace.FlagsSampled}))
		}
		ids.traceID, ids.spanID = tid, sid
		kind, ok := kinds[s.Kind]
		if !ok {
			return nil, fmt.Errorf("unknown span kind %q", s.Kind)
		}
		_, span := tracer.Start(parent, s.Name, trace.WithSpanKind(kind),
			trace.WithTimestamp(time.Unix(0, s.StartNs)), trace.WithAttributes(attrs(s.Attrs)...))
		switch s.Status {
		case "error":
			span.SetStatus(codes.Error, "")
		case "ok":
			span.SetStatus(codes.Ok, "")
		}
		span.End(trace.WithTimestamp(time.Unix(0, s.EndNs)))
	}
	finished := memory.GetSpans().Snapshots()
	if len(finished) != len(j.Spans) {
		return nil, fmt.Errorf("the SDK finished %d of %d spans", len(finished), len(j.Spans))
	}
	for i, s := range finished {
		if s.SpanContext().SpanID().String() != j.Spans[i].SpanID {
			return nil, fmt.Errorf("span %d has id %s, not the workload's %s", i,
				s.SpanContext().SpanID(), j.Spans[i].SpanID)
		}
	}
	exporter, err := traceExporter(ctx, j)
	if err != nil {
		return nil, err
	}
	batch := j.Batch
	if batch <= 0 {
		batch = len(finished)
	}
	results := []string{}
	for i := 0; i < len(finished); i += batch {
		end := min(i+batch, len(finished))
		results = append(results, result(exporter.ExportSpans(ctx, finished[i:end])))
	}
	if err := exporter.Shutdown(ctx); err != nil {
		return nil, err
	}
	for _, tp := range providers {
		_ = tp.Shutdown(ctx)
	}
	return map[string]any{"spans": len(finished), "results": results}, nil
}

type meterOf struct {
	provider *sdkmetric.MeterProvider
	gauges   map[string]metric.Float64Gauge
}

func runMetrics(ctx context.Context, j *job) (map[string]any, error) {
	meters := map[string]*meterOf{}
	var order []string
	results := []string{}
	for _, p := range j.Points {
		m, ok := meters[p.Service]
		if !ok {
			exporter, err := metricExporter(ctx, j)
			if err != nil {
				return nil, err
			}
			reader := sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithInterval(time.Hour),
				sdkmetric.WithTimeout(20*time.Second))
			m = &meterOf{provider: sdkmetric.NewMeterProvider(
				sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", p.Service))),
				sdkmetric.WithReader(reader)), gauges: map[string]metric.Float64Gauge{}}
			meters[p.Service] = m
			order = append(order, p.Service)
		}
		g, ok := m.gauges[p.Metric]
		if !ok {
			var err error
			g, err = m.provider.Meter("shop").Float64Gauge(p.Metric)
			if err != nil {
				return nil, err
			}
			m.gauges[p.Metric] = g
		}
		g.Record(ctx, p.Value, metric.WithAttributes(attrs(p.Attrs)...))
		results = append(results, result(m.provider.ForceFlush(ctx)))
	}
	for _, s := range order {
		_ = meters[s].provider.Shutdown(ctx)
	}
	return map[string]any{"points": len(j.Points), "results": results}, nil
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: otlpapp JOB.json")
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var j job
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("%s: %w", os.Args[1], err)
	}
	if j.URL != "" {
		if _, err := url.Parse(j.URL); err != nil {
			return err
		}
	}
	ctx := context.Background()
	var out map[string]any
	switch j.Signal {
	case "traces":
		out, err = runTraces(ctx, &j)
	case "metrics":
		out, err = runMetrics(ctx, &j)
	default:
		err = fmt.Errorf("unknown signal %q", j.Signal)
	}
	if err != nil {
		return err
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
	for _, r := range out["results"].([]string) {
		if !strings.HasPrefix(r, "ok") {
			os.Exit(1)
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "otlpapp:", err)
		os.Exit(2)
	}
}
