"""deploy/kubernetes/: the sidecar example, validated offline.

Every object is deserialised into the `kubernetes` Python client's models (a dependency
of tracelogic already; its models carry the API's schema: field names, types and required
fields) and serialised back: a field the model does not know is dropped on the way, so
the round trip must give back exactly the YAML. No schema is downloaded. Then the parts
must fit together: selectors, named ports, volumes, the Collector's configuration, the
spec in the ConfigMap (loaded by tracelogic) and the sidecar's command line and
environment (parsed by `tracelogic serve`'s own parser and settings layers).
"""
from __future__ import annotations

import argparse
import copy

import kubernetes.client
import pytest
import yaml
from kubernetes.client import ApiClient

from .conftest import DEPLOY

K8S = DEPLOY / "kubernetes"


def documents() -> list[dict]:
    docs = []
    for f in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d is not None]
    return docs


def model_name(doc: dict) -> str:
    version = doc["apiVersion"].rsplit("/", 1)[-1]
    return version[0].upper() + version[1:] + doc["kind"]


def deserialize(doc: dict):
    api = ApiClient()
    cls = model_name(doc)
    assert hasattr(kubernetes.client, cls), f"no model {cls} for {doc['kind']}"
    return api._ApiClient__deserialize(copy.deepcopy(doc), cls)  # the client's own path


def diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: not in the model" for k in a.keys() - b.keys()]
        out += [f"{path}.{k}: added" for k in b.keys() - a.keys()]
        for k in a.keys() & b.keys():
            out += diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} became {b!r}"]


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == kind}


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_object_round_trips_through_the_kubernetes_models(doc):
    model = deserialize(doc)
    back = ApiClient().sanitize_for_serialization(model)
    assert diff(doc, back) == []


def test_the_validation_catches_a_typo_and_a_missing_required_field():
    dep = copy.deepcopy(by_kind("Deployment")["shop"])
    dep["spec"]["template"]["spec"]["containers"][1]["imagePullPolice"] = "Always"
    assert diff(dep, ApiClient().sanitize_for_serialization(deserialize(dep))) == [
        ".spec.template.spec.containers[1].imagePullPolice: not in the model"]
    del dep["spec"]["template"]["spec"]["containers"][1]["name"]
    with pytest.raises(ValueError, match="name"):
        deserialize(dep)


def test_a_sidecar_next_to_the_app_with_the_collector_in_front():
    deps, services = by_kind("Deployment"), by_kind("Service")
    pod = deps["shop"]["spec"]["template"]
    names = [c["name"] for c in pod["spec"]["containers"]]
    assert names == ["shop", "tracelogic"]
    assert deps["shop"]["spec"]["selector"]["matchLabels"].items() <= \
        pod["metadata"]["labels"].items()
    # the app exports to the Collector's Service, on a port the Collector listens on
    app_env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    collector = deps["otel-collector"]["spec"]["template"]
    assert app_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.shop.svc:4317"
    assert services["otel-collector"]["spec"]["selector"].items() <= \
        collector["metadata"]["labels"].items()
    # every Service selects pods of some Deployment and targets their named ports
    for name, svc in services.items():
        pods = [d["spec"]["template"] for d in deps.values()
                if svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]
                ["labels"].items()]
        assert pods, f"Service {name} selects no pod"
        ports = {p["name"] for c in pods[0]["spec"]["containers"] for p in c.get("ports", [])}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports, name
    assert services["tracelogic"]["spec"]["clusterIP"] == "None"   # headless: every pod


def test_volumes_and_probes_refer_to_what_exists():
    config_maps = by_kind("ConfigMap")
    for dep in by_kind("Deployment").values():
        spec = dep["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in spec["containers"]:
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, (c["name"], m["name"])
            ports = {p["name"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                p = c.get(probe)
                if p:
                    port = (p.get("httpGet") or p.get("tcpSocket"))["port"]
                    assert port in ports, (c["name"], probe, port)
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
        for v in volumes.values():
            if "configMap" in v:
                assert v["configMap"]["name"] in config_maps


def test_the_collector_routes_whole_traces_to_the_headless_sidecar_service():
    cfg = yaml.safe_load(by_kind("ConfigMap")["otel-collector-config"]["data"]["config.yaml"])
    lb = cfg["exporters"]["load_balancing/tracelogic"]
    assert lb["routing_key"] == "traceID"
    assert lb["resolver"]["dns"]["hostname"] == "tracelogic.shop.svc.cluster.local"
    sidecar_grpc = next(p for p in by_kind("Service")["tracelogic"]["spec"]["ports"]
                        if p["name"] == "tl-grpc")
    assert int(lb["resolver"]["dns"]["port"]) == sidecar_grpc["port"]
    assert lb["protocol"]["otlp"]["headers"]["authorization"].startswith("Bearer ")
    pipeline = cfg["service"]["pipelines"]["traces"]
    assert set(pipeline["receivers"]) <= set(cfg["receivers"])
    assert set(pipeline["processors"]) <= set(cfg["processors"])
    assert pipeline["exporters"] == ["load_balancing/tracelogic"]


def test_the_spec_in_the_configmap_loads_and_is_per_trace():
    import tracelogic

    text = by_kind("ConfigMap")["tracelogic-spec"]["data"]["shop.spec"]
    spec = tracelogic.load(text)
    from tracelogic.engine.stream import routing_keys

    assert set(routing_keys(spec)) == {"trace_id"}   # what sharding by traceID keeps exact


def test_the_sidecar_command_line_and_environment_are_valid_serve_settings(tmp_path):
    """The container's args through serve's own parser, its env through the settings
    layers: an unknown option or a badly typed variable fails here, not in the cluster."""
    from tracelogic.cli import build_parser
    from tracelogic.sidecar.settings import apply_layers

    pod = by_kind("Deployment")["shop"]["spec"]["template"]["spec"]
    c = next(c for c in pod["containers"] if c["name"] == "tracelogic")
    assert c["args"][0] == "serve"
    args = build_parser().parse_args(c["args"])
    env = {e["name"]: e.get("value") or "from-a-secret" for e in c["env"]}
    origin = apply_layers(args, env)
    assert args.spec == "/etc/tracelogic/shop.spec" and origin["spec"] == "TRACELOGIC_SPEC"
    assert args.grpc == "0.0.0.0:4317" and args.http == "0.0.0.0:4318"
    assert args.journal is True and args.queue_spans == 50000
    assert args.tls_cert and args.tls_key and "TRACELOGIC_TOKEN" in env
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    for path in (args.spec, args.store, args.tls_cert, args.tls_key):
        assert any(path.startswith(m + "/") for m in mounts), path
    with pytest.raises(Exception, match="TRACELOGIC_QUEUE_SPANS"):
        apply_layers(build_parser().parse_args(c["args"]),
                     dict(env, TRACELOGIC_QUEUE_SPANS="lots"))
    assert isinstance(args, argparse.Namespace)


def test_the_collector_config_is_valid_for_the_collector_the_tests_build(tmp_path):
    """The image is the Collector release the interop tests build (tests/interop/collector.py),
    and that build's own ``validate`` accepts the ConfigMap's configuration."""
    import subprocess

    from tests.interop.collector import otelcol, version

    deps = by_kind("Deployment")
    image = deps["otel-collector"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":" + version().lstrip("v")), image
    config = tmp_path / "config.yaml"
    config.write_text(by_kind("ConfigMap")["otel-collector-config"]["data"]["config.yaml"])
    done = subprocess.run([str(otelcol()), "validate", f"--config={config}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text().replace("routing_key: traceID", "routing_key: nope"))
    done = subprocess.run([str(otelcol()), "validate", f"--config={broken}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
