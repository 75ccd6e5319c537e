package tracelogic.interop;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.metrics.DoubleGauge;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.metrics.OtlpGrpcMetricExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Exports a workload with the real OpenTelemetry Java SDK to a live `tracelogic serve`
 * (tests/interop/test_java_sdk.py).
 *
 * <pre>java -cp otlpapp.jar:lib/* tracelogic.interop.OtlpApp JOB.json</pre>
 *
 * <p>JOB.json has the format of tests/interop/go/main.go, with "exporter" "grpc" or "http"
 * (OTLP/HTTP protobuf). Spans are made by the SDK's own tracer (one SdkTracerProvider per
 * service resource) with the workload's ids through an IdGenerator, so the test can compare
 * the stored violations with file mode over the same spans; the OTLP exporters then send the
 * finished spans in batches, with retries off so every refusal shows. Prints one JSON line
 * with the export results; exits 1 if any export failed.
 */
public final class OtlpApp {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** Hands the SDK the ids of the span being started. */
  private static final class WorkloadIds implements IdGenerator {
    String traceId = "";
    String spanId = "";

    @Override
    public String generateSpanId() {
      return spanId;
    }

    @Override
    public String generateTraceId() {
      return traceId;
    }
  }

  /** Keeps the finished spans, in the order they ended. */
  private static final class Memory implements SpanExporter {
    final List<SpanData> spans = new ArrayList<>();

    @Override
    public synchronized CompletableResultCode export(Collection<SpanData> batch) {
      spans.addAll(batch);
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return CompletableResultCode.ofSuccess();
    }
  }

  private OtlpApp() {}

  private static Resource service(String name) {
    return Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), name));
  }

  private static Attributes attrs(JsonObject o) {
    AttributesBuilder b = Attributes.builder();
    if (o == null) {
      return b.build();
    }
    for (Map.Entry<String, JsonElement> e : o.entrySet()) {
      JsonPrimitive p = e.getValue().getAsJsonPrimitive();
      if (p.isBoolean()) {
        b.put(e.getKey(), p.getAsBoolean());
      } else if (p.isNumber()) {
        String s = p.getAsString();
        if (s.contains(".") || s.contains("e") || s.contains("E")) {
          b.put(e.getKey(), p.getAsDouble());
        } else {
          b.put(e.getKey(), p.getAsLong());
        }
      } else {
        b.put(e.getKey(), p.getAsString());
      }
    }
    return b.build();
  }

  private static SpanKind kind(String k) {
    switch (k) {
      case "server": return SpanKind.SERVER;
      case "client": return SpanKind.CLIENT;
      case "producer": return SpanKind.PRODUCER;
      case "consumer": return SpanKind.CONSUMER;
      case "internal": case "unspecified": return SpanKind.INTERNAL;
      default: throw new IllegalArgumentException("unknown span kind " + k);
    }
  }

  private static String result(CompletableResultCode r) {
    r.join(TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
    if (r.isSuccess()) {
      return "ok";
    }
    Throwable t = r.getFailureThrowable();
    return "failed: " + (t == null ? "unknown" : t.toString());
  }

  private static SpanExporter traceExporter(JsonObject job) {
    String url = job.get("url").getAsString();
    boolean gzip = job.has("compression") && job.get("compression").getAsString().equals("gzip");
    switch (job.get("exporter").getAsString()) {
      case "grpc":
        return OtlpGrpcSpanExporter.builder().setEndpoint(url).setTimeout(TIMEOUT)
            .setCompression(gzip ? "gzip" : "none").setRetryPolicy(null).build();
      case "http":
        return OtlpHttpSpanExporter.builder().setEndpoint(url).setTimeout(TIMEOUT)
            .setCompression(gzip ? "gzip" : "none").setRetryPolicy(null).build();
      default:
        throw new IllegalArgumentException("unknown trace exporter " + job.get("exporter"));
    }
  }

  private static MetricExporter metricExporter(JsonObject job) {
    String url = job.get("url").getAsString();
    switch (job.get("exporter").getAsString()) {
      case "grpc":
        return OtlpGrpcMetricExporter.builder().setEndpoint(url).setTimeout(TIMEOUT)
            .setRetryPolicy(null).build();
      case "http":
        return OtlpHttpMetricExporter.builder().setEndpoint(url).setTimeout(TIMEOUT)
            .setRetryPolicy(null).build();
      default:
        throw new IllegalArgumentException("unknown metric exporter " + job.get("exporter"));
    }
  }

  private static JsonObject traces(JsonObject job) {
    WorkloadIds ids = new WorkloadIds();
    Memory memory = new Memory();
    Map<String, Tracer> tracers = new LinkedHashMap<>();
    List<SdkTracerProvider> providers = new ArrayList<>();
    List<JsonElement> spans = job.getAsJsonArray("spans").asList();
    for (JsonElement el : spans) {
      JsonObject s = el.getAsJsonObject();
      String svc = s.get("service").getAsString();
      Tracer tracer = tracers.get(svc);
      if (tracer == null) {
        SdkTracerProvider tp = SdkTracerProvider.builder().setResource(service(svc))
            .setIdGenerator(ids).setSampler(Sampler.alwaysOn())
            .addSpanProcessor(SimpleSpanProcessor.create(memory)).build();
        providers.add(tp);
        tracer = tp.get("shop", "1.0");
        tracers.put(svc, tracer);
      }
      String traceId = s.get("trace_id").getAsString();
      String parentId = s.get("parent_id").getAsString();
      ids.traceId = traceId;
      ids.spanId = s.get("span_id").getAsString();
      var builder = tracer.spanBuilder(s.get("name").getAsString())
          .setSpanKind(kind(s.get("kind").getAsString()))
          .setStartTimestamp(s.get("start_ns").getAsLong(), TimeUnit.NANOSECONDS)
          .setAllAttributes(attrs(s.getAsJsonObject("attrs")));
      if (parentId.isEmpty()) {
        builder.setNoParent();
      } else {
        builder.setParent(Context.root().with(Span.wrap(SpanContext.create(
            traceId, parentId, TraceFlags.getSampled(), TraceState.getDefault()))));
      }
      Span span = builder.startSpan();
      switch (s.get("status").getAsString()) {
        case "error": span.setStatus(StatusCode.ERROR); break;
        case "ok": span.setStatus(StatusCode.OK); break;
        default: break;
      }
      span.end(s.get("end_ns").getAsLong(), TimeUnit.NANOSECONDS);
    }
    List<SpanData> finished = new ArrayList<>(memory.spans);
    if (finished.size() != spans.size()) {
      throw new IllegalStateException(
          "the SDK finished " + finished.size() + " of " + spans.size() + " spans");
    }
    for (int i = 0; i < finished.size(); i++) {
      String want = spans.get(i).getAsJsonObject().get("span_id").getAsString();
      if (!finished.get(i).getSpanId().equals(want)) {
        throw new IllegalStateException("span " + i + " has id " + finished.get(i).getSpanId()
            + ", not the workload's " + want);
      }
    }
    SpanExporter exporter = traceExporter(job);
    int batch = job.has("batch") ? job.get("batch").getAsInt() : finished.size();
    List<String> results = new ArrayList<>();
    for (int i = 0; i < finished.size(); i += batch) {
      results.add(result(exporter.export(finished.subList(i, Math.min(i + batch, finished.size())))));
    }
    exporter.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    for (SdkTracerProvider tp : providers) {
      tp.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
    JsonObject out = new JsonObject();
    out.addProperty("spans", finished.size());
    out.add("results", new com.google.gson.Gson().toJsonTree(results));
    return out;
  }

  private static JsonObject metrics(JsonObject job) {
    Map<String, SdkMeterProvider> providers = new LinkedHashMap<>();
    Map<String, DoubleGauge> gauges = new LinkedHashMap<>();
    List<String> results = new ArrayList<>();
    List<JsonElement> points = job.getAsJsonArray("points").asList();
    for (JsonElement el : points) {
      JsonObject p = el.getAsJsonObject();
      String svc = p.get("service").getAsString();
      SdkMeterProvider provider = providers.get(svc);
      if (provider == null) {
        PeriodicMetricReader reader = PeriodicMetricReader.builder(metricExporter(job))
            .setInterval(Duration.ofHours(1)).build();
        provider = SdkMeterProvider.builder().setResource(service(svc))
            .registerMetricReader(reader).build();
        providers.put(svc, provider);
      }
      String name = p.get("metric").getAsString();
      DoubleGauge gauge = gauges.get(svc + "\u0000" + name);
      if (gauge == null) {
        gauge = provider.get("shop").gaugeBuilder(name).build();
        gauges.put(svc + "\u0000" + name, gauge);
      }
      gauge.set(p.get("value").getAsDouble(), attrs(p.getAsJsonObject("attrs")));
      results.add(result(provider.forceFlush()));
    }
    for (SdkMeterProvider provider : providers.values()) {
      provider.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
    JsonObject out = new JsonObject();
    out.addProperty("points", points.size());
    out.add("results", new com.google.gson.Gson().toJsonTree(results));
    return out;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: OtlpApp JOB.json");
      System.exit(2);
    }
    JsonObject job = JsonParser.parseString(
        Files.readString(Path.of(args[0]), StandardCharsets.UTF_8)).getAsJsonObject();
    String signal = job.get("signal").getAsString();
    JsonObject out;
    if (signal.equals("traces")) {
      out = traces(job);
    } else if (signal.equals("metrics")) {
      out = metrics(job);
    } else {
      System.err.println("OtlpApp: unknown signal " + signal);
      System.exit(2);
      return;
    }
    System.out.println(out);
    for (JsonElement r : out.getAsJsonArray("results")) {
      if (!r.getAsString().equals("ok")) {
        System.exit(1);
      }
    }
    System.exit(0);
  }
}
