"""Action plugins: command argv safety, webhook HMAC/retries, Kubernetes via the official
client with only its HTTP layer faked, the entry-point registry, the configuration file."""
from __future__ import annotations

import json

import pytest
import urllib3

from tracelogic.healing.actions import (ActionFailed, ActionRefused, ExecContext,
                                        UnknownAction, get_action, registry)
from tracelogic.healing.config import ConfigError, parse_config

from .conftest import SECRET, read_argv_lines


def ctx(key="k1"):
    return ExecContext("p", key, {"property": "prop", "key": "x"})


def run_command(cfg, argv, taint, validate=None):
    act = get_action("command")(cfg)
    args = {"argv": list(argv)}
    if validate is not None:
        args["validate"] = validate
    act.validate(args, {"argv": taint})
    return act, args


# ------------------------------------------------------------------ command

@pytest.mark.parametrize("value", ["x; rm -rf /", "$(touch /tmp/pwned)", "a\nb", "`id`",
                                   "'quoted' \"and\" \\ back", "*", "~"])
def test_command_passes_a_span_value_as_one_literal_element(tmp_path, recorder, value):
    out = tmp_path / "out.jsonl"
    act, args = run_command(parse_config({}), [recorder, str(out), "--", value],
                            [False, False, False, True])
    act.execute(args, ctx())
    assert read_argv_lines(out) == [["--", value]]


def test_command_refuses_a_span_value_in_option_position(recorder):
    with pytest.raises(ActionRefused, match="option"):
        run_command(parse_config({}), [recorder, "--help"], [False, True])
    run_command(parse_config({}), [recorder, "--", "--help"], [False, False, True])


def test_command_refuses_a_program_from_the_span():
    with pytest.raises(ActionRefused, match="argv\\[0\\]"):
        run_command(parse_config({}), ["/bin/echo", "x"], [True, False])


def test_command_validate_per_argument(recorder):
    with pytest.raises(ActionRefused, match="does not match"):
        run_command(parse_config({}), [recorder, "--", "12; rm"], [False, False, True],
                    validate=r"[0-9]+")
    run_command(parse_config({}), [recorder, "--", "12"], [False, False, True],
                validate=r"[0-9]+")
    # one pattern per element; "" checks nothing
    with pytest.raises(ActionRefused, match="argv\\[1\\]"):
        run_command(parse_config({}), [recorder, "abc", "12"], [False, True, True],
                    validate=["", "[a-b]+", "[0-9]+"])
    with pytest.raises(ActionRefused, match="one per element"):
        run_command(parse_config({}), [recorder, "abc"], [False, True], validate=["", "", ""])
    with pytest.raises(ActionRefused, match="not valid RE2"):
        run_command(parse_config({}), [recorder, "--", "x"], [False, False, True],
                    validate="(")


def test_command_allowlist_and_failures(tmp_path, recorder):
    cfg = parse_config({"command": {"allowed": ["/usr/bin/true"], "timeout": "2s"}})
    with pytest.raises(ActionRefused, match="allowed"):
        run_command(cfg, [recorder, "x"], [False, False])
    act, args = run_command(parse_config({}), ["/bin/false"], [False])
    with pytest.raises(ActionFailed, match="status 1"):
        act.execute(args, ctx())


# ------------------------------------------------------------------ webhook

def webhook_cfg(receiver, retries=2):
    return parse_config({"webhooks": {"oncall": {
        "url": receiver.url, "secret": SECRET.decode(), "timeout": "2s", "retries": retries,
        "backoff": "1ms"}}})


def test_webhook_signs_and_retries_server_errors(receiver):
    receiver.statuses = [500, 503]
    act = get_action("webhook")(webhook_cfg(receiver))
    args = {"endpoint": "oncall", "note": "x; rm -rf /"}
    act.validate(args, {})
    res = act.execute(args, ctx("idem-1"))
    assert res.ok and [a["status"] for a in res.detail["attempts"]] == [500, 503, 200]
    assert len(receiver.requests) == 3 and all(receiver.signed_ok(r) for r in receiver.requests)
    assert not receiver.signed_ok(receiver.requests[0], b"another secret")
    body = json.loads(receiver.requests[-1]["body"])
    assert body["fields"]["note"] == "x; rm -rf /" and body["idempotency_key"] == "idem-1"


def test_webhook_does_not_retry_a_refusal_and_fails_after_retries(receiver):
    receiver.statuses = [400]
    act = get_action("webhook")(webhook_cfg(receiver))
    with pytest.raises(ActionFailed):
        act.execute({"endpoint": "oncall"}, ctx())
    assert len(receiver.requests) == 1
    receiver.statuses = [500, 500, 500]
    with pytest.raises(ActionFailed, match="3 attempt"):
        act.execute({"endpoint": "oncall"}, ctx())


def test_webhook_endpoint_must_be_configured_and_constant(receiver):
    act = get_action("webhook")(webhook_cfg(receiver))
    with pytest.raises(ConfigError, match="no webhook named"):
        act.validate({"endpoint": "nope"}, {})
    with pytest.raises(ActionRefused, match="constant"):
        act.validate({"endpoint": "oncall"}, {"endpoint": True})


def test_webhook_unreachable_times_out(receiver):
    cfg = parse_config({"webhooks": {"dead": {"url": "http://127.0.0.1:9/x", "retries": 1,
                                              "timeout": "200ms", "backoff": "1ms"}}})
    with pytest.raises(ActionFailed, match="2 attempt"):
        get_action("webhook")(cfg).execute({"endpoint": "dead"}, ctx())


# ------------------------------------------------------------------ kubernetes (HTTP faked)

class FakePool:
    """Stands in for urllib3.PoolManager inside kubernetes.client.rest: records requests,
    answers from a script keyed by (method, path)."""

    requests: list = []
    answers: dict = {}

    def __init__(self, *a, **kw):
        pass

    def request(self, method, url, body=None, headers=None, **kw):
        path = url.split("://", 1)[1].split("/", 1)[1]
        FakePool.requests.append({"method": method, "url": url, "path": "/" + path,
                                  "body": json.loads(body) if body else None,
                                  "headers": dict(headers or {})})
        key = (method, "/" + path.split("?")[0])
        data = FakePool.answers.get(key, {})
        return urllib3.HTTPResponse(body=json.dumps(data).encode(), status=200,
                                    headers={"Content-Type": "application/json"},
                                    preload_content=False)

    def clear(self):
        pass


DEP = "/apis/apps/v1/namespaces/shop/deployments/checkout"


@pytest.fixture
def kube(tmp_path, monkeypatch):
    import kubernetes.client.rest as rest

    FakePool.requests, FakePool.answers = [], {}
    FakePool.answers[("PATCH", DEP)] = {  # what the API server answers: the deployment
        "metadata": {"name": "checkout"},
        "spec": {"selector": {"matchLabels": {"app": "checkout"}}, "template": {}}}
    monkeypatch.setattr(rest.urllib3, "PoolManager", FakePool)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("""
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: test-token}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: shop}}]
current-context: ctx
""")
    return parse_config({"kubernetes": {"kubeconfig": str(kubeconfig), "context": "ctx",
                                        "namespace": "shop", "min_replicas": 2,
                                        "max_replicas": 10, "namespaces": ["shop"]}})


DEP = "/apis/apps/v1/namespaces/shop/deployments/checkout"


def k8s(cfg, name, args):
    act = get_action(name)(cfg)
    args = act.bind(list(args.items()))
    act.validate(args, {})
    return act, args


def test_kubernetes_restart_patches_the_pod_template(kube):
    act, args = k8s(kube, "kubernetes.restart", {"deployment": "checkout"})
    assert act.target_of(args, {}) == "shop/checkout"
    act.execute(args, ctx("idem-r"))
    [req] = FakePool.requests
    assert (req["method"], req["path"]) == ("PATCH", DEP)
    assert req["headers"].get("authorization", req["headers"].get("Authorization")) == \
        "Bearer test-token", req["headers"]
    assert req["headers"]["Content-Type"] == "application/strategic-merge-patch+json"
    ann = req["body"]["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in ann
    assert ann["tracelogic.io/idempotency-key"] == "idem-r"


def test_kubernetes_scale_clamps_to_the_configured_minimum(kube):
    FakePool.answers[("GET", DEP + "/scale")] = {"spec": {"replicas": 3}}
    act, args = k8s(kube, "kubernetes.scale", {"deployment": "checkout", "delta": -5})
    res = act.execute(args, ctx())
    get, patch = FakePool.requests
    assert (get["method"], get["path"]) == ("GET", DEP + "/scale")
    assert (patch["method"], patch["path"]) == ("PATCH", DEP + "/scale")
    assert patch["body"] == {"spec": {"replicas": 2}}
    assert res.detail["clamped_from"] == -2 and res.undo["replicas"] == 3


def test_kubernetes_rollback_replaces_the_template_with_the_previous_revision(kube):
    FakePool.answers[("GET", DEP)] = {
        "metadata": {"name": "checkout", "uid": "u-1",
                     "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"selector": {"matchLabels": {"app": "checkout"}},
                 "template": {"metadata": {"labels": {"app": "checkout"}}, "spec": {
                     "containers": [{"name": "c", "image": "shop:3"}]}}}}

    def rs(rev, image, uid="u-1"):
        return {"metadata": {"name": f"checkout-{rev}", "annotations": {
            "deployment.kubernetes.io/revision": str(rev)}, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout", "uid": uid}]},
            "spec": {"selector": {"matchLabels": {"app": "checkout"}}, "template": {
                "metadata": {"labels": {"app": "checkout", "pod-template-hash": "h"}},
                "spec": {"containers": [{"name": "c", "image": image}]}}}}

    FakePool.answers[("GET", "/apis/apps/v1/namespaces/shop/replicasets")] = {
        "items": [rs(1, "shop:1"), rs(2, "shop:2"), rs(3, "shop:3"), rs(9, "x", uid="other")]}
    act, args = k8s(kube, "kubernetes.rollback", {"deployment": "checkout"})
    res = act.execute(args, ctx())
    get, lst, patch = FakePool.requests
    assert "labelSelector=app%3Dcheckout" in lst["url"]
    assert patch["headers"]["Content-Type"] == "application/json-patch+json"
    [op] = patch["body"]
    assert op["op"] == "replace" and op["path"] == "/spec/template"
    assert op["value"]["spec"]["containers"][0]["image"] == "shop:2"
    assert "pod-template-hash" not in op["value"]["metadata"]["labels"]
    assert res.detail == {"namespace": "shop", "deployment": "checkout", "from_revision": 3,
                          "to_revision": 2}


def test_kubernetes_names_from_spans_are_checked(kube):
    for bad in ("Checkout", "a/b", "x; rm -rf /", "../etc", ""):
        with pytest.raises(ActionRefused):
            k8s(kube, "kubernetes.restart", {"deployment": bad})
    with pytest.raises(ActionRefused, match="namespaces"):
        k8s(kube, "kubernetes.restart", {"deployment": "checkout", "namespace": "kube-system"})
    assert FakePool.requests == []


# ------------------------------------------------------------------ registry, config

def test_builtins_are_registered_through_entry_points():
    from importlib.metadata import entry_points

    names = {e.name for e in entry_points(group="tracelogic.actions")}
    expected = {"log", "webhook", "command", "circuit_breaker", "kubernetes.scale",
                "kubernetes.restart", "kubernetes.rollback"}
    assert expected <= names and expected <= set(registry())
    for name in expected:
        cls = get_action(name)
        assert cls.name == name and 0.0 <= cls.risk <= 1.0
    with pytest.raises(UnknownAction, match="kubernetes.restart"):
        get_action("kubernetes.restrat")


def test_config_rejects_typos_and_reads_secrets_from_env(monkeypatch):
    with pytest.raises(ConfigError, match="unknown key `concurency`"):
        parse_config({"controller": {"concurency": 2}})
    with pytest.raises(ConfigError, match="not set"):
        parse_config({"webhooks": {"a": {"url": "http://127.0.0.1/", "secret_env": "NOPE_X"}}})
    monkeypatch.setenv("HOOK_SECRET", "from-env")
    cfg = parse_config({"webhooks": {"a": {"url": "http://127.0.0.1/",
                                           "secret_env": "HOOK_SECRET"}}})
    assert cfg.webhooks["a"].secret == b"from-env" and "from-env" not in repr(cfg.webhooks["a"])
    with pytest.raises(ConfigError, match="http"):
        parse_config({"webhooks": {"a": {"url": "file:///etc/passwd"}}})
    assert parse_config({}).execute is False  # dry-run by default
