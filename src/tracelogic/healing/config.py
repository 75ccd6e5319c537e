"""The controller configuration file (TOML): endpoints, secrets, limits. Never the spec.

Webhook URLs, HMAC secrets, kubeconfig paths and the approval endpoint's bearer
token live here and only here (SPEC-LANGUAGE.md §8). A secret is given either
inline (``secret = "…"``) or as the name of an environment variable
(``secret_env = "HOOK_SECRET"``), read when the file is loaded. See
docs/healing.md for every key; unknown keys are an error, so a typo never
silently turns a guard off.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

from tracelogic.errors import InputError
from tracelogic.values.units import parse_duration

SECOND = 10**9


class ConfigError(InputError):
    """The controller configuration file is wrong: names the key and what to write."""


@dataclass(frozen=True)
class WebhookConfig:
    name: str
    url: str
    secret: bytes | None
    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 0.2
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # never print the secret
        return f"WebhookConfig(name={self.name!r}, url={self.url!r}, secret=<redacted>)"


@dataclass(frozen=True)
class ControllerConfig:
    """Everything the controller reads from its TOML file; defaults are the safe choice."""

    execute: bool = False                   # dry-run unless `execute = true` or --execute
    concurrency: int = 4                    # actions executing at once, over all policies
    verify_window_ns: int = 10 * 60 * SECOND
    approval_timeout_ns: int = 15 * 60 * SECOND
    approve_above: float | None = None      # risk above which policies without `approve when`
    blast_max_share: float | None = None    # max share of a service's targets per window
    blast_window_ns: int = 3600 * SECOND
    blast_targets: dict[str, int] = field(default_factory=dict)
    approval_listen: tuple[str, int] | None = None
    approval_token: str | None = None
    webhooks: dict[str, WebhookConfig] = field(default_factory=dict)
    command_allowed: tuple[str, ...] | None = None
    command_timeout_s: float = 30.0
    command_cwd: str | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    kube_in_cluster: bool = False
    kube_namespace: str = "default"
    kube_namespaces: tuple[str, ...] | None = None
    min_replicas: int = 1
    max_replicas: int | None = None
    breaker_callback: str | None = None     # "module:function"
    escalation_webhook: str | None = None
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "<defaults>"

    def __repr__(self) -> str:
        return f"load_config({self.source!r})"

    def verify_window(self, policy: str) -> int:
        return self.policies.get(policy, {}).get("verify_window_ns", self.verify_window_ns)

    def webhook(self, name: str) -> WebhookConfig:
        try:
            return self.webhooks[name]
        except KeyError:
            known = ", ".join(sorted(self.webhooks)) or "none"
            raise ConfigError(f"no webhook named {name!r} in the controller configuration "
                              f"(configured: {known})", value=name,
                              hint=f"add a [webhooks.{name}] table with its url") from None


_SECTIONS = {
    "controller": {"execute", "concurrency", "verify_window", "approval_timeout",
                   "approve_above"},
    "blast_radius": {"max_share", "window", "targets"},
    "approval": {"listen", "token", "token_env"},
    "webhooks": None,
    "command": {"allowed", "timeout", "cwd"},
    "kubernetes": {"kubeconfig", "context", "in_cluster", "namespace", "namespaces",
                   "min_replicas", "max_replicas"},
    "circuit_breaker": {"callback"},
    "escalation": {"webhook"},
    "policies": None,
}
_WEBHOOK_KEYS = {"url", "secret", "secret_env", "timeout", "retries", "backoff", "headers"}


def load_config(path: str | None) -> ControllerConfig:
    """Read a controller configuration file; ``None`` gives the (dry-run) defaults."""
    if path is None:
        return ControllerConfig()
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read the controller configuration {path}: {e.strerror}",
                          value=path) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}", value=path) from e
    return parse_config(doc, source=path)


def parse_config(doc: dict, source: str = "<config>") -> ControllerConfig:
    for section, value in doc.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}]", value=section,
                              hint="known sections: " + ", ".join(sorted(_SECTIONS)))
        allowed = _SECTIONS[section]
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{section}] must be a table", value=value)
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise ConfigError(f"{source}: unknown key `{key}` in [{section}]",
                                      value=key, hint="known keys: " + ", ".join(sorted(allowed)))
    c = doc.get("controller", {})
    br = doc.get("blast_radius", {})
    ap = doc.get("approval", {})
    cmd = doc.get("command", {})
    k8s = doc.get("kubernetes", {})
    kw: dict[str, Any] = {"source": source}
    where = f"{source}: "
    if "execute" in c:
        kw["execute"] = _bool(c["execute"], where + "controller.execute")
    if "concurrency" in c:
        kw["concurrency"] = _int(c["concurrency"], where + "controller.concurrency", lo=1)
    if "verify_window" in c:
        kw["verify_window_ns"] = _duration(c["verify_window"], where + "controller.verify_window")
    if "approval_timeout" in c:
        kw["approval_timeout_ns"] = _duration(c["approval_timeout"],
                                              where + "controller.approval_timeout")
    if "approve_above" in c:
        kw["approve_above"] = _ratio(c["approve_above"], where + "controller.approve_above")
    if "max_share" in br:
        kw["blast_max_share"] = _ratio(br["max_share"], where + "blast_radius.max_share")
    if "window" in br:
        kw["blast_window_ns"] = _duration(br["window"], where + "blast_radius.window")
    if "targets" in br:
        t = br["targets"]
        if not isinstance(t, dict):
            raise ConfigError(where + "blast_radius.targets must be a table service = count",
                              value=t)
        kw["blast_targets"] = {str(k): _int(v, f"{where}blast_radius.targets.{k}", lo=1)
                               for k, v in t.items()}
    if "listen" in ap:
        kw["approval_listen"] = _hostport(ap["listen"], where + "approval.listen")
    token = _secret(ap, "token", where + "approval")
    if token is not None:
        kw["approval_token"] = token.decode()
    hooks = {}
    for name, h in doc.get("webhooks", {}).items():
        w = f"{where}webhooks.{name}"
        if not isinstance(h, dict):
            raise ConfigError(f"{w} must be a table with a url", value=h)
        for key in h:
            if key not in _WEBHOOK_KEYS:
                raise ConfigError(f"{w}: unknown key `{key}`", value=key,
                                  hint="known keys: " + ", ".join(sorted(_WEBHOOK_KEYS)))
        url = h.get("url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"{w}.url must be an http:// or https:// URL, got {url!r}",
                              value=url)
        headers = h.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ConfigError(f"{w}.headers must be a table of strings", value=headers)
        hooks[name] = WebhookConfig(
            name, url, _secret(h, "secret", w),
            timeout_s=_duration(h.get("timeout", "5s"), w + ".timeout") / SECOND,
            retries=_int(h.get("retries", 2), w + ".retries", lo=0),
            backoff_s=_duration(h.get("backoff", "200ms"), w + ".backoff") / SECOND,
            headers=tuple(sorted(headers.items())))
    kw["webhooks"] = hooks
    if "allowed" in cmd:
        kw["command_allowed"] = tuple(_strings(cmd["allowed"], where + "command.allowed"))
    if "timeout" in cmd:
        kw["command_timeout_s"] = _duration(cmd["timeout"], where + "command.timeout") / SECOND
    if "cwd" in cmd:
        kw["command_cwd"] = _str(cmd["cwd"], where + "command.cwd")
    if "kubeconfig" in k8s:
        kw["kubeconfig"] = os.path.expanduser(_str(k8s["kubeconfig"], where +
                                                   "kubernetes.kubeconfig"))
    if "context" in k8s:
        kw["kube_context"] = _str(k8s["context"], where + "kubernetes.context")
    if "in_cluster" in k8s:
        kw["kube_in_cluster"] = _bool(k8s["in_cluster"], where + "kubernetes.in_cluster")
    if "namespace" in k8s:
        kw["kube_namespace"] = _str(k8s["namespace"], where + "kubernetes.namespace")
    if "namespaces" in k8s:
        kw["kube_namespaces"] = tuple(_strings(k8s["namespaces"], where + "kubernetes.namespaces"))
    if "min_replicas" in k8s:
        kw["min_replicas"] = _int(k8s["min_replicas"], where + "kubernetes.min_replicas", lo=0)
    if "max_replicas" in k8s:
        kw["max_replicas"] = _int(k8s["max_replicas"], where + "kubernetes.max_replicas", lo=0)
    if "callback" in doc.get("circuit_breaker", {}):
        cb = _str(doc["circuit_breaker"]["callback"], where + "circuit_breaker.callback")
        if ":" not in cb:
            raise ConfigError(f"{where}circuit_breaker.callback must be `module:function`, "
                              f"got {cb!r}", value=cb)
        kw["breaker_callback"] = cb
    if "webhook" in doc.get("escalation", {}):
        kw["escalation_webhook"] = _str(doc["escalation"]["webhook"], where + "escalation.webhook")
    policies = {}
    for name, p in doc.get("policies", {}).items():
        if not isinstance(p, dict) or set(p) - {"verify_window"}:
            raise ConfigError(f"{where}policies.{name}: only `verify_window` can be set here",
                              value=p)
        policies[name] = {"verify_window_ns": _duration(p["verify_window"],
                                                        f"{where}policies.{name}.verify_window")}
    kw["policies"] = policies
    cfg = ControllerConfig(**kw)
    if cfg.escalation_webhook is not None and cfg.escalation_webhook not in cfg.webhooks:
        raise ConfigError(f"{where}escalation.webhook names {cfg.escalation_webhook!r}, which "
                          "is not a configured webhook", value=cfg.escalation_webhook)
    if cfg.max_replicas is not None and cfg.max_replicas < cfg.min_replicas:
        raise ConfigError(f"{where}kubernetes.max_replicas {cfg.max_replicas} is below "
                          f"min_replicas {cfg.min_replicas}", value=cfg.max_replicas)
    return cfg


# ------------------------------------------------------------------ value helpers

def _secret(table: dict, key: str, where: str) -> bytes | None:
    if key in table and f"{key}_env" in table:
        raise ConfigError(f"{where}: give `{key}` or `{key}_env`, not both", value=key)
    if key in table:
        return _str(table[key], f"{where}.{key}").encode()
    env = table.get(f"{key}_env")
    if env is None:
        return None
    env = _str(env, f"{where}.{key}_env")
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"{where}.{key}_env names the environment variable {env}, which is "
                          "not set", value=env, hint=f"export {env}=… before starting")
    return value.encode()


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{where} must be a string, got {v!r}", value=v)
    return v


def _strings(v: Any, where: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where} must be a list of strings, got {v!r}", value=v)
    return list(v)


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where} must be true or false, got {v!r}", value=v)
    return v


def _int(v: Any, where: str, lo: int | None = None) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or (lo is not None and v < lo):
        raise ConfigError(f"{where} must be an integer" + (f" >= {lo}" if lo is not None else "")
                          + f", got {v!r}", value=v)
    return v


def _ratio(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ConfigError(f"{where} must be a number in 0.0..1.0, got {v!r}", value=v)
    return float(v)


def _duration(v: Any, where: str) -> int:
    if not isinstance(v, str):
        raise ConfigError(f"{where} must be a duration string such as \"5m\", got {v!r}", value=v)
    try:
        ns = parse_duration(v)
    except (ValueError, KeyError):
        raise ConfigError(f"{where} must be a duration such as \"30s\" or \"5m\", got {v!r}",
                          value=v) from None
    if ns < 0:
        raise ConfigError(f"{where} must not be negative, got {v!r}", value=v)
    return ns


def _hostport(v: Any, where: str) -> tuple[str, int]:
    text = _str(v, where)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"{where} must be HOST:PORT such as \"127.0.0.1:8765\", got {text!r}",
                          value=text)
    return host.strip("[]"), int(port)
