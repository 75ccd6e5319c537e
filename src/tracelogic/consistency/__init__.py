"""Consistency models over traces: operations from spans, sequential models, and the
checkers (linearizability, session guarantees, eventual consistency; docs/consistency.md)."""
from __future__ import annotations

from .history import Operation
from .linearizability import Budget, KeyResult, Result, Witness, check, check_key
from .models import MODELS, Model, model
from .sessions import GUARANTEES, SessionResult, eventual, sessions

__all__ = ["Operation", "Budget", "KeyResult", "Result", "Witness", "check", "check_key",
           "MODELS", "Model", "model", "GUARANTEES", "SessionResult", "eventual", "sessions"]
