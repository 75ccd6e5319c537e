"""`serve`'s options from three places: the command line, the environment and a TOML file.

Each serve option has one environment variable, ``TRACELOGIC_`` and its long name in upper
case with ``_`` for ``-`` (``--max-open-traces`` is ``TRACELOGIC_MAX_OPEN_TRACES``), and one
key in the ``--config FILE`` (or ``TRACELOGIC_CONFIG``) TOML file, the long name without
``--`` (``max-open-traces = 1000``; ``_`` is accepted for ``-``). The command line wins over
the environment, which wins over the file, which wins over the built-in default. A value
that is not of its option's type is an input error naming where it came from (the variable,
or the file and key), which the command reports with exit 2. docs/serve.md lists them.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any, Mapping

from tracelogic.errors import InputError

__all__ = ["OPTIONS", "SettingError", "Option", "env_name", "apply_layers"]


@dataclass(frozen=True)
class Option:
    dest: str          # the argparse destination
    kind: str          # "str", "int", "bool", "choice", "list", "paths"
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def key(self) -> str:
        return self.dest.replace("_", "-")


#: every serve option that the environment and the config file may set, with its default
OPTIONS: tuple[Option, ...] = (
    Option("spec", "str"),
    Option("grpc", "str", "127.0.0.1:4317"),
    Option("http", "str", "127.0.0.1:4318"),
    Option("store", "str", "tracelogic.db"),
    Option("forward", "str"),
    Option("journal", "bool", False),
    Option("property", "list"),
    Option("lateness", "str", "30s"),
    Option("idle", "str", "5s"),
    Option("max_open_traces", "int", 100_000),
    Option("max_instances", "int", 100_000),
    Option("queue_spans", "int", 50_000),
    Option("max_request_bytes", "str", "4Mi"),
    Option("max_http_connections", "int", 1024),
    Option("request_timeout", "str", "30s"),
    Option("keepalive_timeout", "str", "60s"),
    Option("token_file", "str"),
    Option("tls_cert", "str"),
    Option("tls_key", "str"),
    Option("retention", "str"),
    Option("retention_rows", "int"),
    Option("log_level", "choice", "info", ("debug", "info", "warning", "error")),
    Option("execute", "bool", False),
    Option("controller_config", "str"),
    Option("spec_path", "paths", ()),
    Option("engine", "choice", None, ("python", "native")),
    Option("consistency_window", "int", 10_000),
    Option("consistency_keys", "int", 100_000),
    Option("consistency_steps", "int", 200_000),
)

CONFIG_ENV = "TRACELOGIC_CONFIG"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingError(InputError):
    """A setting that is not of its option's type: the message says where it came from."""


def env_name(opt: Option) -> str:
    return "TRACELOGIC_" + opt.dest.upper()


def _from_env(opt: Option, text: str) -> Any:
    where = env_name(opt)
    if opt.kind == "bool":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise SettingError(f"{where} takes true or false (1/0, yes/no, on/off), got {text!r}")
    if opt.kind == "int":
        try:
            return int(text.strip())
        except ValueError:
            raise SettingError(f"{where} takes a whole number, got {text!r}") from None
    if opt.kind == "choice":
        if text.strip() not in opt.choices:
            raise SettingError(f"{where} takes one of {', '.join(opt.choices)}, got {text!r}")
        return text.strip()
    if opt.kind == "list":  # property names, comma-separated
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise SettingError(f"{where} takes property names separated by commas, got "
                               f"{text!r}")
        return names
    if opt.kind == "paths":
        return [p for p in text.split(os.pathsep) if p]
    if not text.strip():
        raise SettingError(f"{where} is set but empty")
    return text.strip()


def _from_file(opt: Option, value: Any, path: str) -> Any:
    where = f"{path}: `{opt.key}`"
    if opt.kind == "bool":
        if isinstance(value, bool):
            return value
        raise SettingError(f"{where} takes true or false, got {value!r}")
    if opt.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SettingError(f"{where} takes a whole number, got {value!r}")
    if opt.kind in ("list", "paths"):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return list(value)
        what = "property names" if opt.kind == "list" else "directories"
        raise SettingError(f"{where} takes a list of {what} (strings), got {value!r}")
    if not isinstance(value, str) or not value:
        raise SettingError(f"{where} takes a string, got {value!r}")
    if opt.kind == "choice" and value not in opt.choices:
        raise SettingError(f"{where} takes one of {', '.join(opt.choices)}, got {value!r}")
    return value


def read_config(path: str) -> dict[str, Any]:
    """The TOML file's settings by destination; unknown keys and bad TOML are errors."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise SettingError(f"--config {path}: no such file") from None
    except OSError as e:
        raise SettingError(f"cannot read --config {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingError(f"{path} is not valid TOML: {e}") from None
    by_key = {o.key: o for o in OPTIONS}
    out: dict[str, Any] = {}
    for key, value in data.items():
        opt = by_key.get(key.replace("_", "-"))
        if opt is None:
            import difflib

            near = difflib.get_close_matches(key.replace("_", "-"), list(by_key), n=1)
            hint = f"; did you mean `{near[0]}`?" if near else \
                f"; the keys are the serve options' long names ({', '.join(by_key)})"
            raise SettingError(f"{path}: unknown key `{key}`{hint}")
        out[opt.dest] = _from_file(opt, value, path)
    return out


def apply_layers(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str]:
    """Fill each option the command line left unset (None) from the environment, else the
    config file, else its default; returns where each value came from, for messages
    (``--flag``, ``TRACELOGIC_…`` or ``FILE: `key```). Raises :class:`SettingError`."""
    path = getattr(args, "config", None) or environ.get(CONFIG_ENV) or None
    from_file = read_config(path) if path else {}
    origin: dict[str, str] = {}
    for opt in OPTIONS:
        current = getattr(args, opt.dest, None)
        if current is not None and current != []:
            origin[opt.dest] = "SPEC" if opt.dest == "spec" else opt.flag
            continue
        name = env_name(opt)
        if opt.dest == "engine" and environ.get(name):
            # the engine registry reads TRACELOGIC_ENGINE itself (for monitor too), with
            # its own message for a bad value: leave it unset here, over the file's
            origin[opt.dest] = name
            setattr(args, opt.dest, None)
            continue
        if environ.get(name, "") != "":
            value = _from_env(opt, environ[name])
            origin[opt.dest] = name
        elif opt.dest in from_file:
            value = from_file[opt.dest]
            origin[opt.dest] = f"{path}: `{opt.key}`"
        else:
            value = list(opt.default) if opt.kind == "paths" else opt.default
        setattr(args, opt.dest, value)
    if not args.spec:
        raise SettingError("no spec: give SPEC, or set TRACELOGIC_SPEC or `spec` in the "
                           "--config file")
    return origin
