from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_llmguard.config import Config, load_config
from pytest_llmguard.exceptions import GoldenSetError, UsageError
from pytest_llmguard.golden import GoldenSet, golden_set_files, load_golden_set, load_golden_sets
from pytest_llmguard.records import Case, Check, Message

REPO = Path(__file__).parent.parent
BAD_SETS = Path(__file__).parent / "data" / "bad_inputs" / "golden"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_one(tmp_path: Path, name: str, text: str) -> GoldenSet:
    write(tmp_path / "golden_sets" / name, text)
    return load_golden_set(f"golden_sets/{name}", str(tmp_path))


def error_of(tmp_path: Path, name: str, text: str) -> GoldenSetError:
    with pytest.raises(GoldenSetError) as info:
        load_one(tmp_path, name, text)
    return info.value


# --------------------------------------------------------------------------- rendering


def test_yaml_set_renders_exact_cases(tmp_path: Path) -> None:
    golden = load_one(
        tmp_path,
        "support.yaml",
        """\
        name: support
        description: Acme support.
        system: "You are {{company}}'s support assistant."
        params: {temperature: 0, max_tokens: 300}
        vars: {company: Acme, product: Acme Pro}
        tags: [support, billing]
        cases:
          - id: refund-window
            prompt: "How long do I have to return {{ product }}?"
            vars: {product: Acme Mini}
            expected: "30 days."
            context: "Refunds: 30 days."
            params: {max_tokens: 50}
            checks:
              - contains: "30 days"
              - similarity: {min: 0.7}
            tags: [billing, refunds]
            repeat: 3

          - id: chat
            messages:
              - {role: user, content: "Hi from {{company}} fan"}
              - {role: assistant, content: "Hello!"}
              - {role: user, content: "Bye"}
        """,
    )

    assert golden == GoldenSet(
        name="support",
        path="golden_sets/support.yaml",
        description="Acme support.",
        cases=(
            Case(
                set_name="support",
                set_path="golden_sets/support.yaml",
                id="refund-window",
                messages=(
                    Message("system", "You are Acme's support assistant."),
                    Message("user", "How long do I have to return Acme Mini?"),
                ),
                params={"temperature": 0, "max_tokens": 50},
                expected="30 days.",
                context="Refunds: 30 days.",
                checks=(Check("contains", "30 days"), Check("similarity", {"min": 0.7})),
                tags=("support", "billing", "refunds"),
                repeat=3,
                line=8,
                vars={"company": "Acme", "product": "Acme Mini"},
            ),
            Case(
                set_name="support",
                set_path="golden_sets/support.yaml",
                id="chat",
                messages=(
                    Message("system", "You are Acme's support assistant."),
                    Message("user", "Hi from Acme fan"),
                    Message("assistant", "Hello!"),
                    Message("user", "Bye"),
                ),
                params={"temperature": 0, "max_tokens": 300},
                tags=("support", "billing"),
                line=20,
                vars={"company": "Acme", "product": "Acme Pro"},
            ),
        ),
    )
    assert golden.cases[0].key == "golden_sets/support.yaml::refund-window"


def test_case_system_message_replaces_the_set_system(tmp_path: Path) -> None:
    golden = load_one(
        tmp_path,
        "s.yaml",
        """\
        system: set-level
        cases:
          - id: own-system
            messages:
              - {role: system, content: case-level}
              - {role: user, content: hi}
        """,
    )

    assert golden.cases[0].messages == (Message("system", "case-level"), Message("user", "hi"))


def test_set_name_defaults_to_file_stem_and_vars_render_scalars(tmp_path: Path) -> None:
    golden = load_one(
        tmp_path,
        "pricing-v2.yml",
        """\
        vars: {limit: 5, strict: true, ratio: 0.5}
        cases:
          - id: a
            prompt: "{{limit}} {{strict}} {{ratio}} {{ not a var }}"
        """,
    )

    assert golden.name == "pricing-v2"
    assert golden.cases[0].messages == (Message("user", "5 true 0.5 {{ not a var }}"),)


def test_jsonl_set_with_header(tmp_path: Path) -> None:
    header = {
        "_set": {
            "name": "faq",
            "system": "Be brief.",
            "params": {"temperature": 0},
            "tags": ["faq"],
            "vars": {"shop": "Acme"},
        }
    }
    case_a = {"id": "hours", "prompt": "When does {{shop}} open?", "expected": "At 9."}
    case_b = {"id": "cards", "prompt": "Gift cards?", "checks": [{"contains": "never"}]}
    text = "\n".join([json.dumps(header), json.dumps(case_a), "", json.dumps(case_b)]) + "\n"

    golden = load_one(tmp_path, "faq.jsonl", text)

    assert golden == GoldenSet(
        name="faq",
        path="golden_sets/faq.jsonl",
        cases=(
            Case(
                set_name="faq",
                set_path="golden_sets/faq.jsonl",
                id="hours",
                messages=(Message("system", "Be brief."), Message("user", "When does Acme open?")),
                params={"temperature": 0},
                expected="At 9.",
                tags=("faq",),
                line=2,
                vars={"shop": "Acme"},
            ),
            Case(
                set_name="faq",
                set_path="golden_sets/faq.jsonl",
                id="cards",
                messages=(Message("system", "Be brief."), Message("user", "Gift cards?")),
                params={"temperature": 0},
                checks=(Check("contains", "never"),),
                tags=("faq",),
                line=4,
                vars={"shop": "Acme"},
            ),
        ),
    )


def test_jsonl_set_without_header_is_named_after_the_file(tmp_path: Path) -> None:
    golden = load_one(tmp_path, "smoke.jsonl", '{"id": "a", "prompt": "hi"}\n')

    assert golden.name == "smoke"
    assert golden.cases[0].messages == (Message("user", "hi"),)
    assert golden.cases[0].line == 1


def test_yaml_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    golden = load_one(
        tmp_path,
        "anchors.yaml",
        """\
        cases:
          - &base
            id: first
            prompt: same question
            params: {temperature: 0}
          - <<: *base
            id: second
        """,
    )

    assert [(c.id, c.line, dict(c.params)) for c in golden.cases] == [
        ("first", 2, {"temperature": 0}),
        ("second", 6, {"temperature": 0}),
    ]


# --------------------------------------------------------------------------- bad inputs


def expectations(path: Path) -> tuple[str, str, str | None]:
    """(mode, first line, hint) from a corpus file's `# expect:` / `# hint:` header."""
    lines = path.read_text(encoding="utf-8").splitlines()
    mode, _, first = lines[0].removeprefix("# ").partition(": ")
    hint = next((h.removeprefix("# hint: ") for h in lines[1:2] if h.startswith("# hint: ")), None)
    return mode, first.replace("{file}", path.name), hint


@pytest.mark.parametrize("path", sorted(BAD_SETS.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_golden_set_corpus(path: Path) -> None:
    mode, expected, hint = expectations(path)

    with pytest.raises(GoldenSetError) as info:
        load_golden_set(str(path), str(BAD_SETS))

    first, *rest = str(info.value).splitlines()
    if mode == "expect-prefix":
        assert first.startswith(expected)
        assert len(first) > len(expected), "the message after the location is empty"
    else:
        assert mode == "expect"
        assert first == expected
    if hint is not None:
        assert rest[0] == f"  hint: {hint}"
    if "invalid YAML" not in first:
        assert rest[-1] == "  see: README.md#golden-sets"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ['{"id": "a", "prompt": "hi"}', '{"id": "b", "prompt": "hi",}'],
            "faq.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes "
            "(column 28)",
        ),
        (
            ['{"id": "a", "prompt": "hi"}', '["not", "an", "object"]'],
            "faq.jsonl:2: each line must be a JSON object, found a list",
        ),
        (
            ['{"id": "a", "prompt": "hi"}', '{"_set": {"name": "late"}}'],
            "faq.jsonl:2: the '_set' header must be on the first line",
        ),
        (
            ['{"_set": {"name": "x"}, "id": "a"}', '{"id": "a", "prompt": "hi"}'],
            'faq.jsonl:1: the header line must be {"_set": {...set keys...}} alone, without cases',
        ),
        (
            ['{"id": "a", "prompt": "hi"}', '{"id": "b", "promt": "hi"}'],
            "faq.jsonl:2: cases[1].promt: unknown key 'promt'; did you mean 'prompt'?",
        ),
        (
            [
                '{"_set": {"name": "faq"}}',
                '{"id": "a", "prompt": "hi"}',
                '{"id": "a", "prompt": "x"}',
            ],
            "faq.jsonl:3: cases[1].id: duplicate case id 'a': first at line 2, again at line 3",
        ),
        (
            ['{"_set": {"tags": ["not valid"]}}', '{"id": "a", "prompt": "hi"}'],
            "faq.jsonl:1: tags[0]: tag 'not valid' is not a valid name: tags become pytest "
            "markers (-m not valid), so they must be Python identifiers (letters, digits and "
            "'_', not starting with a digit, not a keyword)",
        ),
        (
            ['{"_set": {"name": "faq"}}'],
            "faq.jsonl:1: cases: a golden set needs at least one case",
        ),
        (
            ['{"id": "a", "prompt": "hi", "id": "b"}'],
            "faq.jsonl:1: duplicate key 'id' in this line",
        ),
    ],
)
def test_bad_jsonl_sets(tmp_path: Path, lines: list[str], expected: str) -> None:
    err = error_of(tmp_path, "faq.jsonl", "\n".join(lines) + "\n")

    assert str(err).splitlines()[0] == "golden_sets/" + expected


def test_non_utf8_golden_set(tmp_path: Path) -> None:
    path = tmp_path / "golden_sets" / "latin1.yaml"
    path.parent.mkdir()
    path.write_bytes("cases:\n  - id: caf\u00e9\n".encode("latin-1"))

    with pytest.raises(GoldenSetError) as info:
        load_golden_set(str(path), str(tmp_path))

    assert str(info.value).splitlines()[0] == (
        "golden_sets/latin1.yaml:2: file is not valid UTF-8: byte 0xe9 at byte offset 18"
    )


# --------------------------------------------------------------------------- files and sets


def config_for(tmp_path: Path, golden_sets: str) -> Config:
    write(
        tmp_path / "llmguard.yaml",
        f"""\
        golden_sets: {golden_sets}
        targets: {{a: {{provider: sim, model: sim-stable}}}}
        """,
    )
    return load_config(str(tmp_path))


def test_folders_are_searched_recursively_in_sorted_order(tmp_path: Path) -> None:
    case = "cases: [{id: a, prompt: hi}]\n"
    for rel in ("evals/b.yaml", "evals/a/z.yml", "evals/a.jsonl", "evals/.hidden/x.yaml"):
        if rel.endswith(".jsonl"):
            write(tmp_path / rel, '{"id": "a", "prompt": "hi"}\n')
        else:
            write(tmp_path / rel, case)
    write(tmp_path / "evals" / "notes.md", "not a set\n")
    write(tmp_path / "extra.yaml", "name: extra\n" + case)
    cfg = config_for(tmp_path, "[evals/, extra.yaml, evals/b.yaml]")

    files = golden_set_files(cfg)
    sets = load_golden_sets(cfg)

    assert [Path(f).relative_to(tmp_path).as_posix() for f in files] == [
        "evals/a/z.yml",
        "evals/a.jsonl",
        "evals/b.yaml",
        "extra.yaml",
    ]
    assert [(s.name, s.path) for s in sets] == [
        ("z", "evals/a/z.yml"),
        ("a", "evals/a.jsonl"),
        ("b", "evals/b.yaml"),
        ("extra", "extra.yaml"),
    ]


def test_glob_patterns(tmp_path: Path) -> None:
    for rel in ("evals/a/one.yaml", "evals/b/two.yaml", "evals/b/skip.jsonl"):
        write(tmp_path / rel, "cases: [{id: a, prompt: hi}]\n")
    cfg = config_for(tmp_path, '["evals/**/*.yaml"]')

    assert [s.path for s in load_golden_sets(cfg)] == ["evals/a/one.yaml", "evals/b/two.yaml"]


def test_glob_pattern_without_matches(tmp_path: Path) -> None:
    cfg = config_for(tmp_path, '["evals/*.yaml"]')

    with pytest.raises(GoldenSetError) as info:
        load_golden_sets(cfg)

    assert str(info.value).splitlines()[0] == (
        "llmguard.yaml:1: golden_sets[0]: golden set pattern 'evals/*.yaml' matches no "
        "*.yaml, *.yml or *.jsonl files"
    )


def test_listed_path_that_does_not_exist(tmp_path: Path) -> None:
    write(tmp_path / "evals" / "a.yaml", "cases: [{id: a, prompt: hi}]\n")
    write(
        tmp_path / "llmguard.yaml",
        """\
        targets: {a: {provider: sim, model: sim-stable}}
        golden_sets:
          - evals/
          - evlas/extra.yaml
        """,
    )
    cfg = load_config(str(tmp_path))

    with pytest.raises(GoldenSetError) as info:
        load_golden_sets(cfg)

    assert str(info.value).splitlines()[0] == (
        "llmguard.yaml:4: golden_sets[1]: golden set path 'evlas/extra.yaml' does not exist "
        f"(paths are relative to the rootdir {tmp_path})"
    )


def test_listed_file_with_wrong_extension(tmp_path: Path) -> None:
    write(tmp_path / "cases.json", "{}")
    cfg = config_for(tmp_path, "[cases.json]")

    with pytest.raises(GoldenSetError) as info:
        load_golden_sets(cfg)

    assert str(info.value).splitlines()[0] == (
        "llmguard.yaml:1: golden_sets[0]: golden set file 'cases.json' must end in .yaml, "
        ".yml or .jsonl"
    )


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "evals").mkdir()
    cfg = config_for(tmp_path, "[evals/]")

    with pytest.raises(GoldenSetError) as info:
        load_golden_sets(cfg)

    assert "golden set folder 'evals/' has no *.yaml, *.yml or *.jsonl files" in str(info.value)


def test_two_sets_with_the_same_name(tmp_path: Path) -> None:
    write(tmp_path / "evals" / "a.yaml", "name: support\ncases: [{id: a, prompt: hi}]\n")
    write(tmp_path / "evals" / "b.yaml", "# copy\nname: support\ncases: [{id: a, prompt: hi}]\n")
    cfg = config_for(tmp_path, "[evals/]")

    with pytest.raises(GoldenSetError) as info:
        load_golden_sets(cfg)

    assert str(info.value).splitlines()[0] == (
        "evals/b.yaml:2: two golden sets are named 'support': evals/a.yaml and evals/b.yaml"
    )


def test_golden_set_errors_are_usage_errors(tmp_path: Path) -> None:
    err = error_of(tmp_path, "x.yaml", "cases: [{id: a}]\n")

    assert isinstance(err, UsageError)
    assert (err.file, err.line, err.key_path) == ("golden_sets/x.yaml", 1, "cases[0]")


# --------------------------------------------------------------------------- the examples


def test_example_golden_sets_load() -> None:
    sets = load_golden_sets(load_config(str(REPO)))

    assert len(sets) >= 3
    assert sum(len(s.cases) for s in sets) >= 40
    assert {s.name for s in sets} >= {"support", "text_to_sql", "summarizer", "faq"}
    assert all(s.description for s in sets)
    kinds = {c.kind for s in sets for case in s.cases for c in case.checks}
    assert kinds >= {
        "contains",
        "not_contains",
        "regex",
        "json_schema",
        "similarity",
        "facts",
        "forbidden",
        "no_pii",
        "max_output_tokens",
    }


def test_example_prompts_are_unique_across_sets() -> None:
    # The simulator's answer book is keyed by the last user message.
    sets = load_golden_sets(load_config(str(REPO)))
    prompts = [
        [m.content for m in case.messages if m.role == "user"][-1] for s in sets for case in s.cases
    ]

    assert len(prompts) == len(set(prompts))


def example_cases() -> list[Case]:
    return [c for s in load_golden_sets(load_config(str(REPO))) for c in s.cases]


@pytest.mark.parametrize("case", example_cases(), ids=lambda c: c.key)
def test_example_expected_passes_its_own_checks(case: Case) -> None:
    # The quick start's stable simulator answers exactly `expected`: it must pass.
    from pytest_llmguard.checks import evaluate_checks
    from pytest_llmguard.metrics.similarity import pair_similarity

    assert case.expected is not None
    scores = {"similarity": pair_similarity(case.expected, case.expected)}

    results = evaluate_checks(case, case.expected, None, scores)

    assert [r for r in results if not r.passed] == []
    assert len(results) == len(case.checks) > 0


@pytest.mark.parametrize(
    ("tag", "suggestion"), [("2fa", "tag_2fa"), ("class", "tag_class"), ("a b", "a_b")]
)
def test_invalid_tags_get_a_valid_suggestion(tmp_path: Path, tag: str, suggestion: str) -> None:
    err = error_of(tmp_path, "t.yaml", f"cases: [{{id: a, prompt: hi, tags: ['{tag}']}}]\n")

    assert err.message.startswith(f"tag {tag!r} is not a valid name")
    assert err.hint == f"for example {suggestion!r}"


def test_the_first_error_in_the_file_is_reported(tmp_path: Path) -> None:
    err = error_of(
        tmp_path,
        "two.yaml",
        """\
        cases:
          - id: a
            prompt: hi
            repeat: 0
          - id: b
            promt: hi
        """,
    )

    assert str(err).splitlines()[0] == (
        "golden_sets/two.yaml:4: cases[0].repeat: must be >= 1, found 0"
    )


def test_a_case_keeps_its_vars_and_names_its_prompt_and_system(tmp_path: Path) -> None:
    golden = load_one(
        tmp_path,
        "s.yaml",
        """\
        system: "You help with {{product}}."
        vars: {product: Acme Pro, limit: 5}
        cases:
          - id: a
            messages:
              - {role: user, content: "First {{limit}}"}
              - {role: assistant, content: "Yes"}
              - {role: user, content: "Then?"}
          - id: b
            prompt: "Hi"
        """,
    )
    a, b = golden.cases
    assert a.vars == {"product": "Acme Pro", "limit": 5}
    assert (a.prompt, a.system) == ("Then?", "You help with Acme Pro.")
    assert Case.from_dict(a.to_dict()) == a
    older = {k: v for k, v in b.to_dict().items() if k != "vars"}  # written before vars
    assert Case.from_dict(older).vars == {}
    bare = Case("s", "s.yaml", "c", (Message("assistant", "x"),))
    assert (bare.prompt, bare.system) == ("", None)


def test_vars_are_kept_as_json(tmp_path: Path) -> None:
    golden = load_one(
        tmp_path,
        "s.yaml",
        """\
        vars: {day: 2024-05-01, size: 2.5, 1: x}
        cases:
          - {id: a, prompt: "On {{day}}"}
        """,
    )
    (case,) = golden.cases
    assert case.messages[0].content == "On 2024-05-01"
    assert case.vars == {"day": "2024-05-01", "size": 2.5, "1": "x"}
    assert json.loads(json.dumps(case.to_dict())) == case.to_dict()
