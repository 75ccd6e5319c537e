"""``kubernetes.scale``, ``kubernetes.restart``, ``kubernetes.rollback`` via the official client.

The client is built from the controller configuration (``[kubernetes]``:
``kubeconfig``, ``context`` or ``in_cluster``), never from the spec. Span
values are only object names in the API path, which the client URL-quotes;
names are checked against the DNS-1123 rules first, and namespaces against the
configuration's ``namespaces`` allowlist when there is one.

- ``restart`` is ``kubectl rollout restart``: it patches the pod template's
  ``kubectl.kubernetes.io/restartedAt`` annotation.
- ``scale`` sets ``replicas`` or adds ``delta``, clamped to the configuration's
  ``min_replicas``/``max_replicas``; its undo restores the previous count.
- ``rollback`` is ``kubectl rollout undo``: it replaces the deployment's pod
  template with the one of the previous (or ``to_revision``) ReplicaSet.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

import re2

from tracelogic.healing.actions import (Action, ActionFailed, ActionRefused, ActionResult,
                                        ConfigDefault, Effect, ExecContext, Param)

_DNS1123 = re2.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_REVISION = "deployment.kubernetes.io/revision"
_RESTARTED = "kubectl.kubernetes.io/restartedAt"
_IDEMPOTENCY = "tracelogic.io/idempotency-key"


def api_client(config: Any, hooks: dict) -> Any:
    """An ``ApiClient`` for the configured cluster (or the one a host application passed)."""
    factory = hooks.get("kubernetes.api_client")
    if factory is not None:
        return factory()
    from kubernetes import client
    from kubernetes import config as kconfig

    cfg = client.Configuration()
    try:
        if config.kube_in_cluster:
            kconfig.load_incluster_config(client_configuration=cfg)
        else:
            kconfig.load_kube_config(config_file=config.kubeconfig, context=config.kube_context,
                                     client_configuration=cfg)
    except Exception as e:  # the library raises ConfigException, TypeError, OSError, ...
        raise ActionRefused(f"cannot load the Kubernetes configuration: {e}",
                            hint="set [kubernetes] kubeconfig (and context) or in_cluster = true "
                            "in the controller configuration") from None
    return client.ApiClient(cfg)


class _Deployment(Action):
    params = (Param("deployment", "string"),
              Param("namespace", "string", default=ConfigDefault("kube_namespace")))
    target = ("namespace", "deployment")

    def validate(self, args: dict, tainted: dict) -> None:
        for key in ("namespace", "deployment"):
            value = args[key]
            if len(value) > 253 or _DNS1123.fullmatch(value) is None:
                raise ActionRefused(f"{key} {value!r} is not a valid Kubernetes name "
                                    "(lower-case DNS-1123)", value=value)
        allowed = self.config.kube_namespaces
        if allowed is not None and args["namespace"] not in allowed:
            raise ActionRefused(f"namespace {args['namespace']!r} is not in the configuration's "
                                "[kubernetes] namespaces", value=args["namespace"])

    def _apps(self):
        from kubernetes import client

        return client.AppsV1Api(api_client(self.config, self.hooks))

    def _call(self, what: str, fn, *a, **kw):
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*a, **kw)
        except ApiException as e:
            raise ActionFailed(f"Kubernetes API {what} failed: {e.status} {e.reason}",
                               value={"status": e.status, "reason": e.reason}) from None
        except Exception as e:  # urllib3 connection errors and the like
            raise ActionFailed(f"Kubernetes API {what} failed: {type(e).__name__}: {e}") from None


class RestartAction(_Deployment):
    name = "kubernetes.restart"
    risk = 0.5

    def plan(self, args: dict) -> dict:
        return {"action": self.name, "request": "PATCH deployment pod-template annotation "
                f"{_RESTARTED}", "namespace": args["namespace"], "deployment": args["deployment"]}

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {
            _RESTARTED: now, _IDEMPOTENCY: ctx.idempotency_key}}}}}
        self._call("patch deployment", self._apps().patch_namespaced_deployment,
                   args["deployment"], args["namespace"], body)
        return ActionResult(True, {"namespace": args["namespace"],
                                   "deployment": args["deployment"], "restartedAt": now})


class ScaleAction(_Deployment):
    name = "kubernetes.scale"
    params = _Deployment.params + (Param("replicas", "int", required=False),
                                   Param("delta", "int", required=False))
    risk = 0.4
    effect = Effect("replicas", delta="delta", absolute="replicas")
    has_undo = True

    def validate(self, args: dict, tainted: dict) -> None:
        super().validate(args, tainted)
        if ("replicas" in args) == ("delta" in args):
            raise ActionRefused("`kubernetes.scale` needs exactly one of `replicas` and `delta`")
        if args.get("replicas", 0) < 0:
            raise ActionRefused(f"replicas must not be negative, got {args['replicas']}",
                                value=args["replicas"])

    def plan(self, args: dict) -> dict:
        out = {"action": self.name, "namespace": args["namespace"],
               "deployment": args["deployment"], "min_replicas": self.config.min_replicas,
               "max_replicas": self.config.max_replicas}
        out.update({k: args[k] for k in ("replicas", "delta") if k in args})
        return out

    def _clamp(self, n: int) -> int:
        n = max(n, self.config.min_replicas)
        if self.config.max_replicas is not None:
            n = min(n, self.config.max_replicas)
        return n

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:
        apps = self._apps()
        name, ns = args["deployment"], args["namespace"]
        scale = self._call("read scale", apps.read_namespaced_deployment_scale, name, ns)
        current = int(scale.spec.replicas or 0)
        wanted = args["replicas"] if "replicas" in args else current + args["delta"]
        new = self._clamp(wanted)
        detail = {"namespace": ns, "deployment": name, "from": current, "to": new}
        if new != wanted:
            detail["clamped_from"] = wanted
        if new != current:
            self._call("patch scale", apps.patch_namespaced_deployment_scale, name, ns,
                       {"spec": {"replicas": new}})
        else:
            detail["unchanged"] = True
        return ActionResult(True, detail, undo={"deployment": name, "namespace": ns,
                                                "replicas": current})

    def undo(self, args: dict, result: ActionResult, ctx: ExecContext) -> ActionResult:
        return self.execute(dict(result.undo or {}), ctx)


class RollbackAction(_Deployment):
    name = "kubernetes.rollback"
    params = _Deployment.params + (Param("to_revision", "int", required=False),)
    risk = 0.7
    has_undo = True

    def plan(self, args: dict) -> dict:
        return {"action": self.name, "namespace": args["namespace"],
                "deployment": args["deployment"],
                "to_revision": args.get("to_revision", "previous")}

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:
        from kubernetes import client

        apps = self._apps()
        name, ns = args["deployment"], args["namespace"]
        dep = self._call("read deployment", apps.read_namespaced_deployment, name, ns)
        current = int((dep.metadata.annotations or {}).get(_REVISION, "0") or 0)
        labels = (dep.spec.selector.match_labels or {}) if dep.spec.selector else {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        rss = self._call("list replicasets", apps.list_namespaced_replica_set, ns,
                         label_selector=selector)
        owned = []
        for rs in rss.items:
            owners = rs.metadata.owner_references or []
            if any(o.uid == dep.metadata.uid for o in owners):
                rev = int((rs.metadata.annotations or {}).get(_REVISION, "0") or 0)
                owned.append((rev, rs))
        wanted = args.get("to_revision")
        if wanted is not None:
            candidates = [(r, rs) for r, rs in owned if r == wanted]
        else:
            candidates = sorted(((r, rs) for r, rs in owned if r < current),
                                key=lambda x: x[0], reverse=True)
        if not candidates:
            raise ActionFailed(f"no revision to roll back to for deployment {ns}/{name} "
                               f"(current revision {current}, wanted "
                               f"{wanted if wanted is not None else 'previous'})")
        revision, rs = candidates[0]
        template = client.ApiClient().sanitize_for_serialization(rs.spec.template)
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        patch = [{"op": "replace", "path": "/spec/template", "value": template}]
        self._call("patch deployment", apps.patch_namespaced_deployment, name, ns, patch)
        return ActionResult(True, {"namespace": ns, "deployment": name, "from_revision": current,
                                   "to_revision": revision},
                            undo={"deployment": name, "namespace": ns, "to_revision": current})

    def undo(self, args: dict, result: ActionResult, ctx: ExecContext) -> ActionResult:
        return self.execute(dict(result.undo or {}), ctx)
