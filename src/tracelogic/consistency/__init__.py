"""Consistency models over traces: operations from spans, sequential models, and the
checkers (linearizability, sequential consistency, session guarantees, causal and
eventual consistency; docs/consistency.md)."""
from __future__ import annotations

from .history import Operation
from .linearizability import Budget, KeyResult, Result, Witness, check, check_key
from .models import MODELS, Model, model
from .causal import causal
from .sequential import check_sequential
from .sessions import GUARANTEES, SessionResult, eventual, sessions

__all__ = ["Operation", "Budget", "KeyResult", "Result", "Witness", "check", "check_key",
           "MODELS", "Model", "model", "GUARANTEES", "SessionResult", "eventual", "sessions",
           "causal", "check_sequential"]
