"""Per-output checks declared in golden sets: validated at load time, evaluated per output.

- :mod:`~pytest_llmguard.checks.registry`: the kinds (``CHECK_KINDS``), each with its
  validator and evaluator, and the two entry points ``validate_check`` and
  ``evaluate_checks``.
- :mod:`~pytest_llmguard.checks.validation`: the argument validators.
- :mod:`~pytest_llmguard.checks.evaluation`: the evaluators.
- :mod:`~pytest_llmguard.checks.compiled`: regexes and JSON Schemas, compiled once.
"""

from __future__ import annotations

from .registry import CHECK_KINDS, KINDS, CheckKind, evaluate_checks, validate_check

__all__ = ["CHECK_KINDS", "KINDS", "CheckKind", "evaluate_checks", "validate_check"]
