"""Consistency models over traces: operations from spans, sequential models, and the
checkers (linearizability; docs/consistency.md)."""
from __future__ import annotations

from .history import Operation
from .linearizability import Budget, KeyResult, Result, Witness, check, check_key
from .models import MODELS, Model, model

__all__ = ["Operation", "Budget", "KeyResult", "Result", "Witness", "check", "check_key",
           "MODELS", "Model", "model"]
