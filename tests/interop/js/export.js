// Exports a workload with the real OpenTelemetry JavaScript SDK to a live `tracelogic serve`.
//
//   node export.js JOB.json
//
// JOB.json (written by tests/interop/test_js_sdk.py):
//   {"signal": "traces", "exporter": "proto" | "json" | "grpc", "url": "...",
//    "compression": "none" | "gzip", "batch": 40,
//    "spans": [{"name", "trace_id", "span_id", "parent_id", "start": [s, ns],
//               "end": [s, ns], "kind", "status", "service", "attrs"}]}
//   {"signal": "metrics", "exporter": "proto" | "json", "url": "...",
//    "points": [{"service", "metric", "value", "attrs"}]}
//   {"signal": "logs", "exporter": "proto" | "json", "url": "...",
//    "records": [{"time": [s, ns], "severity", "severity_text", "body", "trace_id",
//                 "span_id", "service", "attrs"}]}   (docs/logs.md)
//
// Spans are made by the SDK's own tracer (BasicTracerProvider, one per service resource),
// with the workload's ids through an IdGenerator, so the Python side can compare the
// stored violations with file mode over the same spans. Prints one JSON line with the
// export results; exits 1 if any export failed.
'use strict';

const fs = require('fs');
const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const {
  BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter,
} = require('@opentelemetry/sdk-trace-base');

const KINDS = {
  internal: api.SpanKind.INTERNAL, server: api.SpanKind.SERVER, client: api.SpanKind.CLIENT,
  producer: api.SpanKind.PRODUCER, consumer: api.SpanKind.CONSUMER,
};
const STATUS = { unset: api.SpanStatusCode.UNSET, ok: api.SpanStatusCode.OK,
                 error: api.SpanStatusCode.ERROR };

class WorkloadIds {
  constructor() { this.traceId = ''; this.spanId = ''; }
  generateTraceId() { return this.traceId; }
  generateSpanId() { return this.spanId; }
}

function traceExporter(job) {
  const opts = { url: job.url, timeoutMillis: 20000 };
  if (job.compression === 'gzip') opts.compression = 'gzip';
  if (job.exporter === 'proto') {
    return new (require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter)(opts);
  }
  if (job.exporter === 'json') {
    return new (require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter)(opts);
  }
  if (job.exporter === 'grpc') {
    const grpc = require('@opentelemetry/exporter-trace-otlp-grpc');
    return new grpc.OTLPTraceExporter(opts);
  }
  throw new Error(`unknown trace exporter ${job.exporter}`);
}

function metricExporter(job) {
  const opts = { url: job.url, timeoutMillis: 20000 };
  if (job.exporter === 'proto') {
    return new (require('@opentelemetry/exporter-metrics-otlp-proto').OTLPMetricExporter)(opts);
  }
  if (job.exporter === 'json') {
    return new (require('@opentelemetry/exporter-metrics-otlp-http').OTLPMetricExporter)(opts);
  }
  throw new Error(`unknown metric exporter ${job.exporter}`);
}

function exportOnce(exporter, spans) {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

async function traces(job) {
  const ids = new WorkloadIds();
  const memory = new InMemorySpanExporter();
  const tracers = new Map();
  const tracerFor = (service) => {
    if (!tracers.has(service)) {
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': service }),
        idGenerator: ids,
        spanProcessors: [new SimpleSpanProcessor(memory)],
      });
      tracers.set(service, provider.getTracer('shop', '1.0'));
    }
    return tracers.get(service);
  };
  for (const s of job.spans) {
    let ctx = api.ROOT_CONTEXT;
    if (s.parent_id) {
      ctx = api.trace.setSpanContext(api.ROOT_CONTEXT, {
        traceId: s.trace_id, spanId: s.parent_id, traceFlags: api.TraceFlags.SAMPLED,
        isRemote: false,
      });
    }
    ids.traceId = s.trace_id;
    ids.spanId = s.span_id;
    const span = tracerFor(s.service).startSpan(s.name, {
      kind: KINDS[s.kind], startTime: s.start, attributes: s.attrs,
    }, ctx);
    if (s.status !== 'unset') span.setStatus({ code: STATUS[s.status] });
    span.end(s.end);
  }
  const finished = memory.getFinishedSpans();
  if (finished.length !== job.spans.length) {
    throw new Error(`the SDK finished ${finished.length} of ${job.spans.length} spans`);
  }
  const exporter = traceExporter(job);
  const results = [];
  for (let i = 0; i < finished.length; i += job.batch) {
    const r = await exportOnce(exporter, finished.slice(i, i + job.batch));
    results.push(r.code === 0 ? 'ok' : `failed: ${r.error && r.error.message}`);
  }
  await exporter.shutdown();
  return { spans: finished.length, results };
}

async function metrics(job) {
  const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
  const readers = new Map();
  const gauges = new Map();
  const results = [];
  const exporters = [];
  for (const p of job.points) {
    if (!readers.has(p.service)) {
      const exporter = metricExporter(job);
      exporters.push(exporter);
      const reader = new PeriodicExportingMetricReader({
        exporter, exportIntervalMillis: 3600000, exportTimeoutMillis: 20000,
      });
      const provider = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': p.service }), readers: [reader],
      });
      readers.set(p.service, { reader, provider });
      gauges.set(p.service, new Map());
    }
    const { reader, provider } = readers.get(p.service);
    const byName = gauges.get(p.service);
    if (!byName.has(p.metric)) byName.set(p.metric, provider.getMeter('shop').createGauge(p.metric));
    byName.get(p.metric).record(p.value, p.attrs || {});
    try {
      await reader.forceFlush();
      results.push('ok');
    } catch (e) {
      results.push(`failed: ${e && e.message}`);
    }
  }
  for (const { provider } of readers.values()) await provider.shutdown();
  return { points: job.points.length, results };
}

function logExporter(job) {
  const opts = { url: job.url, timeoutMillis: 20000 };
  if (job.exporter === 'proto') {
    return new (require('@opentelemetry/exporter-logs-otlp-proto').OTLPLogExporter)(opts);
  }
  if (job.exporter === 'json') {
    return new (require('@opentelemetry/exporter-logs-otlp-http').OTLPLogExporter)(opts);
  }
  throw new Error(`unknown log exporter ${job.exporter}`);
}

async function logs(job) {
  // the SDK's own logger makes the records (one provider per service resource); a record
  // with a trace id is emitted in that span context
  const {
    LoggerProvider, SimpleLogRecordProcessor, InMemoryLogRecordExporter,
  } = require('@opentelemetry/sdk-logs');
  const memory = new InMemoryLogRecordExporter();
  const loggers = new Map();
  const providers = [];
  for (const r of job.records) {
    if (!loggers.has(r.service)) {
      const provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'service.name': r.service }),
        processors: [new SimpleLogRecordProcessor({ exporter: memory })],
      });
      providers.push(provider);
      loggers.set(r.service, provider.getLogger('shop', '1.0'));
    }
    let ctx = api.ROOT_CONTEXT;
    if (r.trace_id) {
      ctx = api.trace.setSpanContext(api.ROOT_CONTEXT, {
        traceId: r.trace_id, spanId: r.span_id, traceFlags: api.TraceFlags.SAMPLED,
        isRemote: false,
      });
    }
    loggers.get(r.service).emit({
      timestamp: r.time, severityNumber: r.severity, severityText: r.severity_text,
      body: r.body, attributes: r.attrs || {}, context: ctx,
    });
  }
  const finished = memory.getFinishedLogRecords();
  if (finished.length !== job.records.length) {
    throw new Error(`the SDK finished ${finished.length} of ${job.records.length} records`);
  }
  const exporter = logExporter(job);
  const r = await exportOnce(exporter, finished);
  await exporter.shutdown();
  for (const p of providers) await p.shutdown();
  return { records: finished.length, results: [r.code === 0 ? 'ok' : `failed: ${r.error && r.error.message}`] };
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  // the exporters log failures through the diagnostics API: make them visible on stderr
  api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);
  const out = job.signal === 'metrics' ? await metrics(job)
    : job.signal === 'logs' ? await logs(job) : await traces(job);
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exitCode = out.results.every((r) => r === 'ok') ? 0 : 1;
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 2;
});
