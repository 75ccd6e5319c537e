"""A small multi-service shop, instrumented with the OpenTelemetry SDK, with fault switches.

Every service is a real HTTP server (stdlib, on 127.0.0.1) in this process, with its
own ``TracerProvider`` (resource ``service.name``) exporting over OTLP/HTTP to a sink
that writes OTLP/JSON Lines, as the Collector's file exporter does. See README.md.
"""
