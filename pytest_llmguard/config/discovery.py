"""Where the configuration comes from, and reading it into a Document with line marks.

Discovery order: ``--llmguard-config PATH``, ``llmguard.yaml`` in the rootdir,
``[tool.llmguard]`` in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import re
import sys
from types import ModuleType
from typing import Any

from pytest_llmguard.config.records import Config
from pytest_llmguard.documents import Document, load_document
from pytest_llmguard.exceptions import ConfigError

tomllib: ModuleType | None
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

CONFIG_FILES = ("llmguard.yaml", "llmguard.yml")
DOCS = "configuration"  # the README section every config error points to


def find_config(
    rootdir: str, explicit: str | None = None, option: str = "--llmguard-config"
) -> str | None:
    """Path of the configuration file to use, or None when there is none.

    Order: ``explicit`` (relative to the current directory, then to ``rootdir``; it must
    exist), ``llmguard.yaml`` / ``llmguard.yml`` in ``rootdir``, then ``pyproject.toml``
    in ``rootdir`` when it has a ``[tool.llmguard]`` table.
    """
    if explicit:
        candidates = [explicit]
        if not os.path.isabs(explicit):
            candidates.append(os.path.join(rootdir, explicit))
        for candidate in candidates:
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        named = f"{option} = {explicit}" if option.startswith("ini ") else f"{option} {explicit}"
        raise ConfigError(
            f"{named}: the config file does not exist",
            hint=f"the path is relative to the current directory or the rootdir ({rootdir})",
            docs=DOCS,
        )
    found = [
        os.path.join(rootdir, n) for n in CONFIG_FILES if os.path.isfile(os.path.join(rootdir, n))
    ]
    if len(found) > 1:
        raise ConfigError(
            f"both {CONFIG_FILES[0]} and {CONFIG_FILES[1]} exist in {rootdir}; keep only one",
            docs=DOCS,
        )
    if found:
        return os.path.abspath(found[0])
    pyproject = os.path.join(rootdir, "pyproject.toml")
    if os.path.isfile(pyproject) and _pyproject_table(pyproject, display_path(pyproject, rootdir)):
        return os.path.abspath(pyproject)
    return None


def read_config(
    rootdir: str, explicit: str | None = None, option: str = "--llmguard-config"
) -> tuple[str, Document] | None:
    """The configuration file's absolute path and its document (YAML or the pyproject
    table, ``Document.path`` being the path as shown in messages), or None without one."""
    path = find_config(rootdir, explicit, option)
    if path is None:
        return None
    display = display_path(path, rootdir)
    if path.endswith(".toml"):
        table = _pyproject_table(path, display)
        if table is None:
            raise ConfigError("has no [tool.llmguard] table", file=display, docs=DOCS)
        return path, table
    return path, load_document(path, display=display, error=ConfigError)


def display_path(path: str, rootdir: str) -> str:
    """A path as shown in messages: relative to the rootdir when inside it."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, rootdir)
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if relative.startswith("..") else relative.replace(os.sep, "/")


def _pyproject_table(path: str, display: str) -> Document | None:
    """The ``[tool.llmguard]`` table of a pyproject.toml as a Document, or None."""
    if tomllib is None:
        raise ConfigError(
            "reading [tool.llmguard] needs Python 3.11+ or the 'tomli' package",
            file=display,
            hint="pip install tomli, or use llmguard.yaml",
        )
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"file is not valid UTF-8: byte offset {exc.start}", file=display
        ) from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+)", str(exc))
        raise ConfigError(
            f"invalid TOML: {exc}", file=display, line=int(match.group(1)) if match else None
        ) from None
    tool = data.get("tool")
    table = tool.get("llmguard") if isinstance(tool, dict) else None
    if table is None:
        return None
    return Document(display, table, _toml_lines(text))


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_TOML_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")


def _toml_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Best-effort line of each ``[tool.llmguard...]`` table and key (TOML gives none)."""

    def parts(dotted: str) -> tuple[str, ...]:
        return tuple(a or b or c for a, b, c in _TOML_PART.findall(dotted))

    lines: dict[tuple[Any, ...], int] = {}
    table: tuple[str, ...] | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        header = _TOML_HEADER.match(line)
        if header:
            name = parts(header.group(1))
            table = name[2:] if name[:2] == ("tool", "llmguard") else None
            if table is not None:
                lines.setdefault(table, lineno)
            continue
        key = _TOML_KEY.match(line)
        if table is not None and key:
            lines.setdefault((*table, *parts(key.group(1))), lineno)
    return lines


def config_line_of(config: Config, json_path: tuple[Any, ...]) -> int | None:
    """Line of ``json_path`` (or its nearest ancestor) in the file ``config`` came from.

    The file is read again: only error messages about a loaded config need lines.
    """
    if config.path is None:
        return None
    display = display_path(config.path, config.rootdir)
    try:
        if config.path.endswith(".toml"):
            doc = _pyproject_table(config.path, display)
        else:
            doc = load_document(config.path, display=display, error=ConfigError)
    except ConfigError:
        return None
    return None if doc is None else doc.line_of(json_path)
