"""The one exception hierarchy of pytest-llmguard.

    LLMGuardError                 base: anything the tool reports as a clear, single error
    ├── UsageError                the user's input is wrong (exit code 4 under pytest)
    │   ├── ConfigError           llmguard.yaml / [tool.llmguard] / an option value
    │   ├── GoldenSetError        a golden set file
    │   ├── JsonLinesError        a JSONL/NDJSON log that cannot be read at all, or
    │   │                         its first bad line when read strictly
    │   ├── LogSourceError        a production log source that cannot be read (a
    │   │                         missing file, an unknown format), or its first bad
    │   │                         record when read with strict: true
    │   ├── CheckSpecError        one check inside a golden set (no location yet;
    │   │                         the golden-set loader wraps it with file:line)
    │   ├── SavedRunError         a saved run or baseline that cannot be read or used
    │   └── OutputError           a report, saved run or cache folder that cannot be
    │                             written (found before the first call)
    └── EngineError               the engine could not run at all (e.g. the simulator
                                  failed to start); per-call network faults are NOT
                                  exceptions: they become ErrorRecord on an Observation

Messages say what is wrong, what is allowed, and where (file:line, key path).
"""

from __future__ import annotations


class LLMGuardError(Exception):
    """Base class for every error pytest-llmguard raises on purpose."""


class UsageError(LLMGuardError):
    """The user's input is wrong: pytest turns it into one UsageError (exit code 4)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key_path: str | None = None,
        hint: str | None = None,
        docs: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key_path = key_path
        self.hint = hint
        self.docs = docs
        super().__init__(self.render())

    def render(self) -> str:
        """One readable line (plus an optional hint line), location first."""
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.key_path:
            where = f"{where}: {self.key_path}" if where else self.key_path
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        if self.docs:
            text += f"\n  see: README.md#{self.docs}"
        return text


class ConfigError(UsageError):
    """Invalid configuration file, key or option value."""


class GoldenSetError(UsageError):
    """Invalid golden set file."""


class JsonLinesError(UsageError):
    """A JSONL/NDJSON log cannot be read, or (read strictly) has a bad line."""


class CheckSpecError(UsageError):
    """Invalid check specification (bad regex, bad JSON Schema, unknown kind...)."""


class SavedRunError(UsageError):
    """A saved run (baseline, history entry) that is missing, damaged or unusable."""


class EngineError(LLMGuardError):
    """The engine could not run at all (not a per-call fault)."""


class OutputError(UsageError):
    """A report, saved run or cache folder the run must write cannot be written."""


class LogSourceError(UsageError):
    """A production log that cannot be read, or its first bad record under ``strict``."""
