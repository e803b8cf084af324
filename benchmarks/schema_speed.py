"""How fast a valid document is found valid: hand-written check, fastjsonschema, jsonschema.

    .venv/bin/python benchmarks/schema_speed.py [--cases 10000] [--repeats 7]

``validate`` only needs a yes/no for a valid document (errors are always explained by
jsonschema). This times, on the repo's golden sets, a generated JSONL golden set of
``--cases`` cases and the repo's ``llmguard.yaml``:

  (a) the package's compiled fast check (``documents.fast_schema``);
  (b) ``fastjsonschema`` (``pip install fastjsonschema``; skipped if absent; it rewrites
      the ``$ref`` of the schema it is given in place, so it gets a deep copy);
  (c) jsonschema's ``Draft202012Validator.iter_errors`` (what ``validate`` runs otherwise).

Each figure is the median of ``--repeats`` interleaved repeats; ratios are against (a) in
the same run. One-time costs (import and compiling each schema, in a fresh process) are
printed as well, since every pytest run pays them once.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import py_compile
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_llmguard.documents import load_document, load_jsonl, load_schema

ROOT = Path(__file__).resolve().parent.parent
Check = Callable[[Any], bool]


def generated_cases(n: int) -> list[dict[str, Any]]:
    """Cases shaped like real ones: prompts or messages, several checks, tags, vars."""
    cases: list[dict[str, Any]] = []
    for i in range(n):
        case: dict[str, Any] = {"id": f"case-{i}", "expected": f"The answer to {i} is {2 * i}."}
        if i % 4 == 0:
            case["messages"] = [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": f"What is {i} plus {i}, {{{{name}}}}?"},
            ]
            case["vars"] = {"name": "friend"}
        else:
            case["prompt"] = f"Question number {i}: what is {i} plus {i}?"
        checks: list[dict[str, Any]] = [{"contains": str(2 * i)}, {"max_output_tokens": 80}]
        if i % 3 == 0:
            checks += [{"regex": r"\b\d+\b"}, {"no_pii": ["email", "phone"]}]
        if i % 5 == 0:
            checks += [{"similarity": {"min": 0.7}}, {"forbidden": ["maybe", "unsure"]}]
        case["checks"] = checks
        if i % 2 == 0:
            case["tags"] = ["arith", f"bucket{i % 7}"]
        cases.append(case)
    return cases


def documents(n: int, tmp: str) -> list[tuple[str, str, Any]]:
    """(label, schema name, data) for every document the benchmark validates."""
    docs: list[tuple[str, str, Any]] = []
    for path in sorted((ROOT / "golden_sets").iterdir()):
        if path.suffix == ".jsonl":
            records = [r for _, r in load_jsonl(path)]
            data: dict[str, Any] = dict(records[0].get("_set", {}))
            data["cases"] = records[1:] if "_set" in records[0] else records
        else:
            data = load_document(path).data
        docs.append((f"golden_sets/{path.name}", "golden_set.schema.json", data))
    big = Path(tmp) / "bench.jsonl"
    with open(big, "w", encoding="utf-8") as fh:
        for case in generated_cases(n):
            fh.write(json.dumps(case) + "\n")
    generated = {"cases": [r for _, r in load_jsonl(big)]}
    docs.append((f"generated {n:,}-case JSONL set", "golden_set.schema.json", generated))
    docs.append(("llmguard.yaml", "config.schema.json", load_document(ROOT / "llmguard.yaml").data))
    return docs


def checkers() -> dict[str, Callable[[str], Check]]:
    """Label -> (schema name -> a valid? function) for each implementation present."""
    from jsonschema import Draft202012Validator

    from pytest_llmguard.documents.schemas import fast_checker

    def hand_written(name: str) -> Check:
        check = fast_checker(name)
        assert check is not None, name
        return lambda data: check(data) is True

    def plain(name: str) -> Check:
        validator = Draft202012Validator(load_schema(name))
        return lambda data: not any(True for _ in validator.iter_errors(data))

    out: dict[str, Callable[[str], Check]] = {"(a) hand-written": hand_written}
    try:
        import fastjsonschema
    except ImportError:
        print("fastjsonschema is not installed: row (b) skipped\n")
    else:

        def fast(name: str) -> Check:
            validate = fastjsonschema.compile(copy.deepcopy(dict(load_schema(name))))

            def check(data: Any) -> bool:
                try:
                    validate(data)
                except fastjsonschema.JsonSchemaException:
                    return False
                return True

            return check

        out["(b) fastjsonschema"] = fast
    out["(c) jsonschema"] = plain
    return out


def one_time_costs(tmp: str) -> dict[str, float]:
    """Import + compile of the config and golden-set schemas, each in a fresh interpreter.

    "(b) ahead of time" is fastjsonschema's ``compile_to_code`` output written to a module
    and byte-compiled beforehand, as a package could ship it: only its import is timed.
    """
    names = ["config.schema.json", "golden_set.schema.json"]
    code = {
        "(a) hand-written": "from pytest_llmguard.documents.schemas import fast_checker as c\n"
        "for n in NAMES: c(n)",
        "(b) fastjsonschema": "import fastjsonschema\n"
        "from pytest_llmguard.documents import load_schema\n"
        "for n in NAMES: fastjsonschema.compile(dict(load_schema(n)))",
        "(b) ahead of time": "import schemas_ahead_0, schemas_ahead_1",
        "(c) jsonschema": "from jsonschema import Draft202012Validator\n"
        "from pytest_llmguard.documents import load_schema\n"
        "for n in NAMES: Draft202012Validator(load_schema(n))",
    }
    try:
        import fastjsonschema
    except ImportError:
        del code["(b) fastjsonschema"], code["(b) ahead of time"]
    else:
        for index, name in enumerate(names):
            module = Path(tmp) / f"schemas_ahead_{index}.py"
            module.write_text(
                fastjsonschema.compile_to_code(copy.deepcopy(dict(load_schema(name))))
            )
            py_compile.compile(str(module), doraise=True)
    costs: dict[str, float] = {}
    for label, body in code.items():
        script = (
            "import time, pytest_llmguard.documents\n"
            f"NAMES = {names!r}\n"
            "t = time.perf_counter()\n"
            f"{body}\n"
            "print(time.perf_counter() - t)\n"
        )
        times = []
        for _ in range(5):
            done = subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                text=True,
                check=True,
                cwd=tmp,
                env={**os.environ, "PYTHONPATH": tmp},
            )
            times.append(float(done.stdout.strip()))
        costs[label] = statistics.median(times)
    return costs


def _cell(seconds: float, base: float) -> str:
    return f"{seconds * 1000:10.2f} ms {seconds / base:5.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    impls = checkers()
    with tempfile.TemporaryDirectory() as tmp:
        costs = one_time_costs(tmp)
        docs = documents(args.cases, tmp)
    compiled: dict[str, dict[str, Check]] = {label: {} for label in impls}
    for label, make in impls.items():
        for _, schema, _ in docs:
            if schema not in compiled[label]:
                compiled[label][schema] = make(schema)

    print(f"validating a valid document: median of {args.repeats} interleaved repeats")
    print(f"  {'document':34}" + "".join(f"{label:>25}" for label in impls))
    medians: dict[str, dict[str, float]] = {}
    for name, schema, data in docs:
        times: dict[str, list[float]] = {label: [] for label in impls}
        for _ in range(args.repeats):
            for label in impls:
                check = compiled[label][schema]
                start = time.perf_counter()
                ok = check(data)
                times[label].append(time.perf_counter() - start)
                assert ok, f"{label} rejects {name}"
        medians[name] = {label: statistics.median(t) for label, t in times.items()}
        base = medians[name]["(a) hand-written"]
        print(f"  {name:34}" + "".join(_cell(medians[name][m], base) for m in impls))

    print("\none-time cost: import + compile of the config and golden-set schemas")
    print("(fresh process each, median of 5; the package's own import excluded)")
    base = costs["(a) hand-written"]
    for label, seconds in costs.items():
        print(f"  {label:34}{_cell(seconds, base)}")

    print("\na whole load = one-time cost + validating these documents")
    generated = docs[-2][0]
    scenarios = {
        "the repo (config + 4 golden sets)": [n for n, _, _ in docs if n != generated],
        f"config + the {args.cases:,}-case set": [generated, docs[-1][0]],
    }
    print(f"  {'':34}" + "".join(f"{label:>25}" for label in costs))
    for scenario, names in scenarios.items():
        whole = {
            label: seconds
            + sum(medians[n][label.replace(" ahead of time", " fastjsonschema")] for n in names)
            for label, seconds in costs.items()
        }
        base = whole["(a) hand-written"]
        print(f"  {scenario:34}" + "".join(_cell(whole[label], base) for label in costs))
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
