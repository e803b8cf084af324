"""Golden sets: find the files, validate them and render every case into a ``Case``.

A golden set is a YAML file (``name``, ``system``, ``params``, ``vars``, ``tags``,
``cases``) or a JSONL file (one case per line; the set is named after the file; an
optional first line ``{"_set": {...}}`` holds the set-level keys). Rendering a case:

- messages: the set's ``system`` message (unless the case's own ``messages`` start
  with a system message, which then replaces it), then the ``prompt`` as one user
  message or the case's ``messages``; ``{{var}}`` placeholders are filled from the set's
  ``vars`` overridden by the case's (an undefined one is an error);
- params: the set's merged with the case's; tags: the set's then the case's, without
  duplicates (tags become pytest markers, so they must be identifiers);
- checks: validated by ``checks.validate_check``; errors name file:line and the key
  path, e.g. ``cases[3].checks[1].regex``.
"""

from __future__ import annotations

import glob
import keyword
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.config import Config
from pytest_llmguard.config.build import check_budget_scopes
from pytest_llmguard.documents import Document, JsonPath, load_document, load_jsonl, validate
from pytest_llmguard.exceptions import CheckSpecError, GoldenSetError
from pytest_llmguard.records import Case, Check, Message, Provenance
from pytest_llmguard.suggest import did_you_mean_hint

__all__ = [
    "EXTENSIONS",
    "GoldenSet",
    "golden_set_files",
    "load_golden_set",
    "load_golden_sets",
]

GOLDEN_SCHEMA = "golden_set.schema.json"
DOCS = "golden-sets"  # the README section every golden-set error points to
EXTENSIONS = (".yaml", ".yml", ".jsonl")
HEADER_KEY = "_set"
# Tags become pytest markers; these names already mean something to pytest or to us.
RESERVED_TAGS = frozenset(
    {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "llmguard"}
)
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME = re.compile(r"^(?!.*(\.\.|::))[^\s/\\\[\]\x00-\x1f\x7f-\x9f]+$")


@dataclass(frozen=True, slots=True)
class GoldenSet:
    """One golden set file, fully rendered."""

    name: str
    path: str  # relative to the rootdir, '/'-separated: golden_sets/support.yaml
    cases: tuple[Case, ...]
    description: str | None = None


def load_golden_sets(config: Config) -> tuple[GoldenSet, ...]:
    """Load every golden set listed in ``config.golden_sets``, in path order.

    Raises one ``GoldenSetError`` for the first problem: a listed path that does not
    exist, an invalid file, or two sets with the same name.
    """
    sets: list[GoldenSet] = []
    names: dict[str, GoldenSet] = {}
    for path in golden_set_files(config):
        golden, name_line = _load(path, config.rootdir)
        first = names.get(golden.name)
        if first is not None:
            raise GoldenSetError(
                f"two golden sets are named {golden.name!r}: {first.path} and {golden.path}",
                file=golden.path,
                line=name_line,
                hint="set names must be unique; a set without 'name' is named after its file",
                docs=DOCS,
            )
        names[golden.name] = golden
        sets.append(golden)
    tags = {t for g in sets for c in g.cases for t in c.tags}
    check_budget_scopes(config, names, tags)
    return tuple(sets)


def load_golden_set(path: str, rootdir: str) -> GoldenSet:
    """Load one golden set file (YAML or JSONL); ``path`` is absolute or rootdir-relative."""
    full = path if os.path.isabs(path) else os.path.join(rootdir, path)
    return _load(full, rootdir)[0]


def golden_set_files(config: Config) -> list[str]:
    """Absolute paths of the golden set files that ``config.golden_sets`` lists.

    Folders are searched recursively for ``*.yaml``, ``*.yml`` and ``*.jsonl`` (hidden
    files and folders skipped), in sorted order; glob patterns (``evals/**/*.yaml``) are
    expanded; a file listed twice is loaded once.
    """
    files: dict[str, None] = {}
    for index, entry in enumerate(config.golden_sets):
        full = os.path.abspath(os.path.join(config.rootdir, entry))
        where = f"golden_sets[{index}]"
        if os.path.isdir(full):
            found = sorted(_walk(full), key=lambda p: os.path.relpath(p, full).split(os.sep))
            if not found:
                raise _listing_error(
                    config,
                    index,
                    f"golden set folder {entry!r} has no *.yaml, *.yml or *.jsonl files",
                    where,
                )
            files.update(dict.fromkeys(found))
        elif os.path.isfile(full):
            if not full.endswith(EXTENSIONS):
                raise _listing_error(
                    config,
                    index,
                    f"golden set file {entry!r} must end in .yaml, .yml or .jsonl",
                    where,
                )
            files[full] = None
        elif any(c in entry for c in "*?["):
            matched = glob.glob(full, recursive=True)
            found = sorted(p for p in matched if os.path.isfile(p) and p.endswith(EXTENSIONS))
            if not found:
                raise _listing_error(
                    config,
                    index,
                    f"golden set pattern {entry!r} matches no *.yaml, *.yml or *.jsonl files",
                    where,
                )
            files.update(dict.fromkeys(found))
        else:
            raise _listing_error(
                config,
                index,
                f"golden set path {entry!r} does not exist (paths are relative to the "
                f"rootdir {config.rootdir})",
                where,
            )
    return list(files)


def _walk(folder: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for filename in filenames:
            if filename.endswith(EXTENSIONS) and not filename.startswith("."):
                yield os.path.join(dirpath, filename)


def _listing_error(config: Config, index: int, message: str, key_path: str) -> GoldenSetError:
    from pytest_llmguard.config import config_line_of

    file = None
    line = None
    if config.path is not None:
        file = _relative(config.path, config.rootdir)
        line = config_line_of(config, ("golden_sets", index))
    return GoldenSetError(message, file=file, line=line, key_path=key_path, docs=DOCS)


def _relative(path: str, rootdir: str) -> str:
    return os.path.relpath(os.path.abspath(path), rootdir).replace(os.sep, "/")


# --------------------------------------------------------------------------- one file


def _load(path: str, rootdir: str) -> tuple[GoldenSet, int | None]:
    rel = _relative(path, rootdir)
    stem = os.path.splitext(os.path.basename(path))[0]
    if path.endswith(".jsonl"):
        doc = _jsonl_document(path, rel)
    else:
        doc = load_document(path, display=rel, error=GoldenSetError)
    validate(doc, GOLDEN_SCHEMA, GoldenSetError, docs=DOCS)
    data: Mapping[str, Any] = doc.data
    name = data.get("name")
    if name is None:
        if not _NAME.match(stem):
            raise doc.error(
                GoldenSetError,
                f"the file name {stem!r} cannot be used as the set name",
                hint="add a 'name:' without '/', '..', '::', whitespace, '[' or ']'",
                docs=DOCS,
            )
        name = stem
    cases = _render_cases(doc, str(name), rel)
    golden = GoldenSet(name=str(name), path=rel, cases=cases, description=data.get("description"))
    return golden, doc.line_of(("name",))


def _jsonl_document(path: str, display: str) -> Document:
    """A JSONL set as the same shape as a YAML set, with each case at its line."""
    records = load_jsonl(path, display=display, error=GoldenSetError)
    data: dict[str, Any] = {}
    lines: dict[JsonPath, int] = {(): records[0][0]}
    first_line, first = records[0]
    if HEADER_KEY in first:
        header = first[HEADER_KEY]
        if len(first) != 1 or not isinstance(header, dict) or "cases" in header:
            raise GoldenSetError(
                f'the header line must be {{"{HEADER_KEY}": {{...set keys...}}}} alone, '
                "without cases",
                file=display,
                line=first_line,
                hint="set keys: name, description, system, params, vars, tags",
                docs=DOCS,
            )
        data.update(header)
        lines.update({(key,): first_line for key in header})
        records = records[1:]
    cases: list[Any] = []
    for index, (line, record) in enumerate(records):
        if HEADER_KEY in record:
            raise GoldenSetError(
                f"the {HEADER_KEY!r} header must be on the first line",
                file=display,
                line=line,
                docs=DOCS,
            )
        lines[("cases", index)] = line
        cases.append(record)
    data["cases"] = cases
    return Document(display, data, lines)


def _render_cases(doc: Document, set_name: str, set_path: str) -> tuple[Case, ...]:
    data: Mapping[str, Any] = doc.data
    set_vars: Mapping[str, Any] = data.get("vars") or {}
    set_params: Mapping[str, Any] = data.get("params") or {}
    set_tags = _tags(doc, data.get("tags") or [], ("tags",))
    system: str | None = data.get("system")
    seen: dict[str, int | None] = {}
    cases: list[Case] = []
    for index, raw in enumerate(data["cases"]):
        at: JsonPath = ("cases", index)
        case_id = _case_id(doc, str(raw["id"]), (*at, "id"))
        id_line = doc.line_of((*at, "id"))
        if case_id in seen:
            same = "" if case_id == raw["id"] else " (the same after Unicode normalisation)"
            raise doc.error(
                GoldenSetError,
                f"duplicate case id {case_id!r}{same}: first at line {seen[case_id]}, "
                f"again at line {id_line}",
                (*at, "id"),
                hint="case ids must be unique within a set",
                docs=DOCS,
            )
        seen[case_id] = id_line
        variables = {**set_vars, **(raw.get("vars") or {})}
        renderer = _Renderer(doc, case_id, variables)
        body: list[Message]
        if "prompt" in raw:
            body = [Message("user", renderer.render(raw["prompt"], (*at, "prompt")))]
        else:
            body = [
                Message(m["role"], renderer.render(m["content"], (*at, "messages", j, "content")))
                for j, m in enumerate(raw["messages"])
            ]
        if system is not None and not (body and body[0].role == "system"):
            body.insert(0, Message("system", renderer.render(system, ("system",))))
        cases.append(
            Case(
                set_name=set_name,
                set_path=set_path,
                id=case_id,
                messages=tuple(body),
                params={**set_params, **(raw.get("params") or {})},
                expected=raw.get("expected"),
                context=raw.get("context"),
                checks=_checks(doc, raw, at),
                tags=tuple(
                    dict.fromkeys((*set_tags, *_tags(doc, raw.get("tags") or [], (*at, "tags"))))
                ),
                repeat=int(raw.get("repeat", 1)),
                line=doc.line_of(at),
                provenance=Provenance.from_dict(raw["provenance"]) if "provenance" in raw else None,
                vars=_json_safe(variables),
            )
        )
    return tuple(cases)


def _case_id(doc: Document, raw: str, at: JsonPath) -> str:
    """The id in Unicode NFC, so look-alike ids (``café`` typed two ways) are one id;
    an invisible character (zero-width, bidi control, soft hyphen) is an error."""
    hidden = next((c for c in raw if unicodedata.category(c) == "Cf"), None)
    if hidden is not None:
        name = unicodedata.name(hidden, "a format character")
        raise doc.error(
            GoldenSetError,
            f"case id {raw!r} contains an invisible character U+{ord(hidden):04X} ({name})",
            at,
            hint="ids must read as what they are: remove the character",
            docs=DOCS,
        )
    return unicodedata.normalize("NFC", raw)


class _Renderer:
    """``{{var}}`` substitution for one case, with errors that name the case."""

    def __init__(self, doc: Document, case_id: str, variables: Mapping[str, Any]) -> None:
        self._doc = doc
        self._case_id = case_id
        self._vars = {k: _var_text(v) for k, v in variables.items()}

    def render(self, text: str, at: JsonPath) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            value = self._vars.get(name)
            if value is None:
                defined = ", ".join(self._vars) or "none"
                raise self._doc.error(
                    GoldenSetError,
                    f"case {self._case_id!r} uses {{{{{name}}}}} but no var {name!r} is defined"
                    + did_you_mean_hint(name, self._vars),
                    at,
                    hint=f"add it to the case's or the set's vars (defined: {defined})",
                    docs=DOCS,
                )
            return value

        return _VAR.sub(replace, text)


def _json_safe(value: Any) -> Any:
    """``value`` with what JSON cannot hold (YAML dates, non-text keys) as text: a case's
    vars travel to workers and into cache keys as JSON."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _var_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tags(doc: Document, tags: Sequence[str], at: JsonPath) -> tuple[str, ...]:
    for index, tag in enumerate(tags):
        if not tag.isidentifier() or keyword.iskeyword(tag):
            raise doc.error(
                GoldenSetError,
                f"tag {tag!r} is not a valid name: tags become pytest markers (-m {tag}), so "
                "they must be Python identifiers (letters, digits and '_', not starting "
                "with a digit, not a keyword)",
                (*at, index),
                hint=f"for example {_tag_suggestion(tag)!r}",
                docs=DOCS,
            )
        if tag in RESERVED_TAGS:
            raise doc.error(
                GoldenSetError,
                f"tag {tag!r} is reserved: pytest already has a marker with this name",
                (*at, index),
                hint="choose another name",
                docs=DOCS,
            )
    return tuple(tags)


def _tag_suggestion(tag: str) -> str:
    suggestion = re.sub(r"[^A-Za-z0-9_]+", "_", tag).strip("_")
    if not suggestion.isidentifier() or keyword.iskeyword(suggestion):
        suggestion = f"tag_{suggestion}"
    return suggestion


def _checks(doc: Document, raw: Mapping[str, Any], at: JsonPath) -> tuple[Check, ...]:
    # Imported here: checks depends on heavier scoring code than loading needs.
    from pytest_llmguard.checks import validate_check

    checks: list[Check] = []
    for index, item in enumerate(raw.get("checks") or []):
        ((kind, arg),) = item.items()
        where = (*at, "checks", index, kind)
        if kind == "similarity" and raw.get("expected") is None:
            raise doc.error(
                GoldenSetError,
                "the similarity check compares the output with 'expected', which this case "
                "does not have",
                where,
                hint="add expected: <reference answer> to the case",
                docs=DOCS,
            )
        try:
            validate_check(kind, arg)
        except CheckSpecError as exc:
            # The key path already ends with the kind: drop the validator's "regex: " prefix.
            message = exc.message.removeprefix(f"{kind}: ")
            raise doc.error(
                GoldenSetError, message, where, hint=exc.hint, docs=exc.docs or DOCS
            ) from None
        checks.append(Check(kind, arg))
    return tuple(checks)
