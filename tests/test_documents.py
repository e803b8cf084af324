from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from pytest_llmguard.documents import (
    MAX_ALIAS_NODES,
    SCHEMA_DIR,
    Document,
    describe,
    format_path,
    load_document,
    load_jsonl,
    load_schema,
    parse_yaml,
)
from pytest_llmguard.documents.fast_schema import compile_checker
from pytest_llmguard.documents.schemas import fast_checker, jsonschema_validator
from pytest_llmguard.exceptions import GoldenSetError, UsageError
from pytest_llmguard.suggest import did_you_mean


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def first_line(exc: pytest.ExceptionInfo[UsageError]) -> str:
    return str(exc.value).splitlines()[0]


# --------------------------------------------------------------------------- lines


def test_line_of_every_key_and_item() -> None:
    doc = parse_yaml(
        textwrap.dedent(
            """\
            # comment
            targets:
              candidate:
                provider: openai
                params: {temperature: 0}
            cases:
              - id: a
                checks:
                  - contains: x
                  - regex: y
              - id: b
            """
        ),
        "cfg.yaml",
    )

    assert doc.line_of(()) == 2
    assert doc.line_of(("targets",)) == 2
    assert doc.line_of(("targets", "candidate", "provider")) == 4
    assert doc.line_of(("targets", "candidate", "params", "temperature")) == 5
    assert doc.line_of(("cases", 0)) == 7
    assert doc.line_of(("cases", 0, "checks", 1)) == 10
    assert doc.line_of(("cases", 0, "checks", 1, "regex")) == 10
    assert doc.line_of(("cases", 1, "id")) == 11


def test_line_of_falls_back_to_the_nearest_ancestor() -> None:
    doc = Document("x.yaml", {}, {(): 1, ("a",): 3, ("a", 0): 4})

    assert doc.line_of(("a", 0, "missing", 7)) == 4
    assert doc.line_of(("nowhere",)) == 1
    assert Document("x.yaml", {}).line_of(("a",)) is None


def test_document_error_names_file_line_and_key_path() -> None:
    doc = parse_yaml("cases:\n  - id: a\n    checks:\n      - regex: '('\n", "s.yaml")

    err = doc.error(GoldenSetError, "bad regex", ("cases", 0, "checks", 0, "regex"), hint="h")

    assert str(err) == "s.yaml:4: cases[0].checks[0].regex: bad regex\n  hint: h"


def test_lines_follow_merge_keys() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n", "m.yaml")

    assert doc.data == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3}}
    assert doc.line_of(("other", "y")) == 4


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(("cases", 3, "checks", 1, "regex")) == "cases[3].checks[1].regex"
    assert format_path(("pricing", "gpt-4.1-mini")) == 'pricing["gpt-4.1-mini"]'
    assert format_path(("targets", "my target", "model")) == 'targets["my target"].model'
    assert format_path((0, "id")) == "[0].id"


def test_describe() -> None:
    assert describe(None) == "null"
    assert describe(True) == "a boolean (true)"
    assert describe(3) == "a number (3)"
    assert describe("x" * 100) == f"a string ({'x' * 57 + '...'!r})"
    assert describe({}) == "a mapping"
    assert describe([]) == "a list"


# --------------------------------------------------------------------------- scalars


def test_yaml_1_2_scalars() -> None:
    doc = parse_yaml(
        textwrap.dedent(
            """\
            on: yes
            off: no
            flag: true
            other: False
            date: 2024-01-31
            sexagesimal: 1:20
            zip: "012"
            octal_looking: 012
            exp: 1e-3
            hex: 0x1F
            int: -42
            float: 3.5
            inf: .inf
            empty:
            tilde: ~
            """
        ),
        "s.yaml",
    )

    assert doc.data == {
        "on": "yes",
        "off": "no",
        "flag": True,
        "other": False,
        "date": "2024-01-31",
        "sexagesimal": "1:20",
        "zip": "012",
        "octal_looking": "012",
        "exp": 0.001,
        "hex": 31,
        "int": -42,
        "float": 3.5,
        "inf": math.inf,
        "empty": None,
        "tilde": None,
    }


# Characters YAML can carry verbatim: no control characters, surrogates or line separators
# (YAML reads U+2028 as a line break; PyYAML decodes "\\ud83d\\ude00" escapes one by one).
yaml_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zl", "Zp")))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | yaml_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(yaml_text, children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(yaml_text, json_values, max_size=5))
def test_json_is_read_as_yaml_with_every_path_located(data: dict[str, Any]) -> None:
    doc = parse_yaml(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "d.yaml")

    assert doc.data == data

    def paths(value: Any, prefix: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        items = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value)
            if isinstance(value, list)
            else ()
        )
        out = [prefix]
        for key, child in items:
            out.extend(paths(child, (*prefix, key)))
        return out

    for path in paths(data, ()):
        assert path in doc.lines


# --------------------------------------------------------------------------- bad YAML


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", "d.yaml")

    assert first_line(info) == "d.yaml:4: duplicate key 'c' (first defined at line 3)"


def test_duplicate_keys_in_a_flow_mapping() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("a: {x: 1, x: 2}\n", "d.yaml")

    assert first_line(info) == "d.yaml:1: duplicate key 'x' (first defined at line 1)"


def test_alias_bomb_is_rejected_without_expanding_it() -> None:
    # 9 levels of 9 references: 387 million nodes once expanded.
    lines = ["l0: &l0 [a, a, a, a, a, a, a, a, a]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]

    with pytest.raises(UsageError) as info:
        parse_yaml("\n".join(lines) + "\n", "bomb.yaml")

    assert first_line(info).startswith(
        "bomb.yaml:4: YAML aliases expand to more than 10,000 nodes (an alias bomb?)"
    )


def test_aliases_below_the_limit_are_fine() -> None:
    # 99 references to a 100-node list: 9,900 extra nodes.
    text = "base: &b [" + ", ".join(["x"] * 99) + "]\nrefs: [" + ", ".join(["*b"] * 99) + "]\n"

    doc = parse_yaml(text, "ok.yaml")

    assert MAX_ALIAS_NODES >= 99 * 100
    assert len(doc.data["refs"]) == 99


def test_recursive_alias_is_rejected() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("a: &a\n  - *a\n", "r.yaml")

    assert first_line(info) == (
        "r.yaml:1: recursive YAML alias: an alias refers to the anchor that contains it"
    )


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("a: [1, 2\nb: 3\n", "s.yaml")

    assert first_line(info).startswith("s.yaml:2: invalid YAML: ")


def test_two_documents_in_one_file() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("a: 1\n---\nb: 2\n", "two.yaml")

    assert str(info.value).splitlines() == [
        "two.yaml:2: invalid YAML: expected a single document in the stream, but found "
        "another document",
        "  hint: a file holds one YAML document; remove the extra '---'",
    ]


def test_control_characters_are_reported_with_a_line() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("a: 1\nb: \x00\n", "c.yaml")

    assert first_line(info).startswith("c.yaml:2: invalid YAML: unacceptable character")


def test_deep_nesting_is_reported_not_crashing() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("[" * 2000 + "]" * 2000 + "\n", "deep.yaml")

    # libyaml says "exceeded maximum nesting depth", the pure-Python parser "nested too deeply".
    assert first_line(info).startswith("deep.yaml")
    assert "invalid YAML: " in first_line(info) and "nest" in first_line(info)


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "e.yaml: file is empty"),
        (b"  \n\n\t\n", "e.yaml: file is empty"),
        (b"# only a comment\n", "e.yaml: file is empty (only comments)"),
    ],
)
def test_empty_files(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "e.yaml").write_bytes(content)

    with pytest.raises(UsageError) as info:
        load_document(tmp_path / "e.yaml", display="e.yaml")

    assert first_line(info) == expected


def test_non_utf8_file_names_byte_offset_and_line(tmp_path: Path) -> None:
    (tmp_path / "l.yaml").write_bytes(b"a: 1\nname: caf\xe9\n")

    with pytest.raises(UsageError) as info:
        load_document(tmp_path / "l.yaml", display="l.yaml")

    assert str(info.value).splitlines() == [
        "l.yaml:2: file is not valid UTF-8: byte 0xe9 at byte offset 14",
        "  hint: re-save the file as UTF-8",
    ]


def test_utf16_file(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_bytes("a: 1\n".encode("utf-16"))

    with pytest.raises(UsageError) as info:
        load_document(tmp_path / "w.yaml", display="w.yaml")

    assert first_line(info) == "w.yaml:1: file is UTF-16 encoded; it must be UTF-8"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_bytes(b"\xef\xbb\xbfa: caf\xc3\xa9\n")

    assert load_document(tmp_path / "b.yaml").data == {"a": "caf\u00e9"}


def test_file_too_large(tmp_path: Path) -> None:
    write(tmp_path, "big.yaml", "a: " + "x" * 2000 + "\n")

    with pytest.raises(UsageError) as info:
        load_document(tmp_path / "big.yaml", display="big.yaml", max_bytes=1000)

    assert str(info.value).splitlines() == [
        "big.yaml: file is too large (0.0 MB); the limit is 0 MB",
        "  hint: split it into several files",
    ]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(GoldenSetError) as missing:
        load_document(tmp_path / "nope.yaml", display="nope.yaml", error=GoldenSetError)
    with pytest.raises(UsageError) as folder:
        load_document(tmp_path, display="dir")

    assert first_line(missing) == "nope.yaml: file not found"
    assert first_line(folder) == "dir: is a directory, expected a file"


# --------------------------------------------------------------------------- JSONL


def test_jsonl_records_with_line_numbers(tmp_path: Path) -> None:
    write(tmp_path, "l.jsonl", '{"a": 1}\n\n  \n{"b": [1, 2]}\n{"c": null}')

    assert load_jsonl(tmp_path / "l.jsonl") == [
        (1, {"a": 1}),
        (4, {"b": [1, 2]}),
        (5, {"c": None}),
    ]


def test_jsonl_crlf_and_bom(tmp_path: Path) -> None:
    (tmp_path / "w.jsonl").write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"b": 2}\r\n')

    assert load_jsonl(tmp_path / "w.jsonl") == [(1, {"a": 1}), (2, {"b": 2})]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"a": 1}\n{"a": 2\n', "l.jsonl:2: invalid JSON: Expecting ',' delimiter (column 8)"),
        (b'{"a": 1}\n42\n', "l.jsonl:2: each line must be a JSON object, found a number (42)"),
        (b'{"a": 1, "a": 2}\n', "l.jsonl:1: duplicate key 'a' in this line"),
        (
            b'{"a": 1}\n{"b": "\xff"}\n',
            "l.jsonl:2: file is not valid UTF-8: byte 0xff at byte offset 16",
        ),
        (b"\n\n", "l.jsonl: file is empty"),
    ],
)
def test_bad_jsonl(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "l.jsonl").write_bytes(content)

    with pytest.raises(UsageError) as info:
        load_jsonl(tmp_path / "l.jsonl", display="l.jsonl")

    assert first_line(info) == expected


def test_pretty_printed_json_in_jsonl_gets_a_hint(tmp_path: Path) -> None:
    write(tmp_path, "p.jsonl", '{\n  "id": "a"\n}\n')

    with pytest.raises(UsageError) as info:
        load_jsonl(tmp_path / "p.jsonl", display="p.jsonl")

    assert str(info.value).splitlines()[1] == (
        "  hint: this looks like pretty-printed JSON; JSONL needs one object per line"
    )


# --------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("name", sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json")))
def test_shipped_schemas_are_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# --------------------------------------------------------------------------- suggestions


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("modle", ["provider", "model", "base_url"], "model"),
        ("Model", ["provider", "model"], "model"),
        ("cocurrency", ["concurrency", "timeout_s"], "concurrency"),
        ("xyz", ["model", "provider"], None),
        ("model", ["model"], None),
        ("anything", [], None),
    ],
)
def test_did_you_mean(word: str, choices: list[str], expected: str | None) -> None:
    assert did_you_mean(word, choices) == expected


# ---- the fast validity check must agree with jsonschema wherever it answers

_json_atom = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 150),
    st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0]),
    st.sampled_from(["", "x", "ok", "a b", "c/d", "user", "system", "bad", "email", "phone"]),
)
_json = st.recursive(
    _json_atom,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "prompt",
                    "messages",
                    "role",
                    "content",
                    "min",
                    "contains",
                    "no_pii",
                    "checks",
                    "tags",
                    "repeat",
                    "vars",
                    "x",
                ]
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
_check = st.one_of(
    st.fixed_dictionaries({"contains": st.sampled_from(["x", ""])}),
    st.fixed_dictionaries({"no_pii": st.one_of(st.booleans(), st.lists(_json_atom, max_size=3))}),
    st.fixed_dictionaries({"similarity": st.fixed_dictionaries({"min": _json_atom})}),
    st.fixed_dictionaries({"max_output_tokens": _json_atom}),
    st.dictionaries(st.sampled_from(["contains", "regex", "judge", "nope"]), _json, max_size=2),
)
_case = st.fixed_dictionaries(
    {"id": st.one_of(st.sampled_from(["c1", "a b", "x::y", ""]), _json_atom)},
    optional={
        "prompt": st.one_of(st.just("hi"), _json_atom),
        "messages": st.lists(
            st.fixed_dictionaries({"role": _json_atom, "content": st.one_of(st.just("hi"), _json)}),
            max_size=2,
        ),
        "checks": st.lists(_check, max_size=3),
        "tags": st.one_of(st.lists(st.sampled_from(["t", ""]), max_size=2), _json),
        "repeat": _json_atom,
        "vars": st.dictionaries(st.sampled_from(["a", "b"]), _json, max_size=2),
        "bogus": _json,
    },
)
_golden = st.fixed_dictionaries(
    {"cases": st.one_of(st.lists(_case, max_size=3), _json)},
    optional={"name": _json_atom, "system": _json_atom, "params": _json, "tags": _json},
)


@settings(max_examples=400, deadline=None)
@given(_golden)
def test_fast_check_agrees_with_jsonschema(data: dict[str, Any]) -> None:
    fast = fast_checker("golden_set.schema.json")
    assert fast is not None  # the shipped golden-set schema is fully modelled
    verdict = fast(data)
    valid = not list(jsonschema_validator("golden_set.schema.json").iter_errors(data))
    # True is trusted without jsonschema: it must never accept an invalid document.
    assert verdict is None or verdict == valid


def test_fast_check_declines_what_it_does_not_model() -> None:
    assert compile_checker({"type": "object", "if": {"required": ["a"]}}) is None
    assert compile_checker({"$ref": "other.json#/x"}) is None
    check = compile_checker({"type": "array", "uniqueItems": True})
    assert check is not None
    assert check(["a", "b"]) is True and check(["a", "a"]) is False
    assert check([1, True]) is None  # jsonschema's equality of mixed values: ask it
