"""Sharding a run across machines, and merging the saved shards into one judged run.

``--llmguard-shard I/N`` runs the cases whose key hashes to shard I (every target and
repeat of a case lands in the same shard, so pairing by case survives); a shard run
saves its observations but decides no budget. ``llmguard merge`` joins the saved shards
(refusing shards of other inputs or commits, duplicates and gaps) and judges the whole
with ``verdict.assess``, the one verdict path: the merged run gets the verdicts one big
run would have got from the same observations.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_llmguard.baseline import plan_baseline
from pytest_llmguard.config import Config, load_config
from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.golden import GoldenSet
from pytest_llmguard.outcome import Judgement, Outcome, with_failed_items
from pytest_llmguard.store import open_store, parse_run, read_document
from pytest_llmguard.store.runs import saved_count
from pytest_llmguard.verdict import assess, by_target


def shard_of(case_key: str, count: int) -> int:
    """The shard (1..count) a case belongs to: a stable hash of its key, the same anywhere."""
    digest = hashlib.sha256(case_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def _file_digests(config: Config, paths: Sequence[str]) -> hashlib._Hash:
    h = hashlib.sha256()
    for path in paths:
        h.update(os.path.relpath(path, config.rootdir).replace(os.sep, "/").encode())
        try:
            with open(path, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
        except OSError:
            h.update(b"(unreadable)")
    return h


def config_digest(config: Config) -> str:
    """A digest of the config file: the budgets a merged run is judged with must be the
    shards' own."""
    return _file_digests(config, [config.path] if config.path else []).hexdigest()[:16]


def inputs_digest(config: Config, golden_sets: Sequence[GoldenSet]) -> str:
    """A digest of what decides a run's cases and budgets: the config file, the golden
    sets' files and the targets' models after overrides (shards must share it)."""
    files = [config.path] if config.path else []
    files += [os.path.join(config.rootdir, g.path) for g in golden_sets]
    h = _file_digests(config, files)
    for name in sorted(config.targets):
        t = config.targets[name]
        h.update(f"{name}={t.provider}:{t.model}".encode())
    h.update(f"repeat={config.run.repeat}".encode())
    return h.hexdigest()[:16]


def shard_judgement(judgement: Judgement, shard: tuple[int, int]) -> Judgement:
    """A shard decides no budget: its comparisons would judge a fraction of the cases."""
    index, count = shard
    note = (
        f"shard {index}/{count}: budgets are judged once, on the merged run "
        "(llmguard merge SHARD.json... -o merged.json)"
    )
    return replace(
        judgement, comparisons=(), regressions=(), verdict="skip", notes=(*judgement.notes, note)
    )


@dataclass(frozen=True)
class Shard:
    """One saved shard: where it came from and its run document."""

    path: str
    index: int
    count: int
    document: Mapping[str, Any]

    @property
    def run(self) -> Mapping[str, Any]:
        run = self.document.get("run")
        return run if isinstance(run, Mapping) else {}

    @property
    def commit(self) -> str | None:
        git = self.run.get("git")
        return git.get("commit") if isinstance(git, Mapping) else None


def read_shard(path: str) -> Shard:
    doc = read_document(path)
    found = doc.get("run")
    run: Mapping[str, Any] = found if isinstance(found, dict) else {}
    shard = run.get("shard")
    if not (isinstance(shard, dict) and isinstance(shard.get("index"), int)):
        raise SavedRunError(
            f"{path} is not a shard (no run.shard): save shards with --llmguard-shard I/N "
            "--llmguard-save PATH"
        )
    if run.get("partial"):
        raise SavedRunError(f"{path} is a partial (interrupted) run: rerun that shard")
    return Shard(path, int(shard["index"]), int(shard.get("count") or 0), doc)


def check_shards(shards: Sequence[Shard]) -> None:
    """Refuse shards that do not make one run: other inputs or commits, repeats, gaps."""
    if not shards:
        raise SavedRunError("no shards given")
    first = shards[0]
    for other in shards[1:]:
        for what, mine, theirs in (
            ("shard count", first.count, other.count),
            (
                "config and golden sets",
                first.run.get("inputs_digest"),
                other.run.get("inputs_digest"),
            ),
            ("commit", first.commit, other.commit),
        ):
            if mine != theirs:
                raise SavedRunError(
                    f"{other.path} and {first.path} are shards of different runs: their "
                    f"{what} differ ({theirs!r} vs {mine!r})"
                )
    seen = sorted(s.index for s in shards)
    if len(set(seen)) != len(seen):
        raise SavedRunError(f"a shard was given twice: shards {seen} of {first.count}")
    missing = sorted(set(range(1, first.count + 1)) - set(seen))
    if missing:
        raise SavedRunError(
            f"shards {missing} of {first.count} are missing: the gate needs every case"
        )


def _merged_document(shards: Sequence[Shard]) -> dict[str, Any]:
    cases: list[Any] = []
    targets: dict[str, Any] = {}
    owner: dict[tuple[str, str, int], str] = {}
    for shard in shards:
        for entry in shard.document.get("cases", []):
            key = (
                str(entry.get("key") or entry.get("id")),
                str(entry.get("target")),
                int(entry.get("repeat_index") or 0),
            )
            if key in owner:
                raise SavedRunError(
                    f"case {key[0]} [{key[1]}] is in both {owner[key]} and {shard.path}"
                )
            owner[key] = shard.path
            cases.append(entry)
        found = shard.document.get("targets")
        if isinstance(found, Mapping):
            targets.update(found)
    return {**shards[0].document, "targets": targets, "cases": cases}


def merge_shards(
    paths: Sequence[str],
    *,
    config_path: str | None = None,
    rootdir: str = ".",
    baseline: str | None = None,
) -> Outcome:
    """Join saved shards into one run and judge it with the configured budgets.

    The config (and golden sets) found here must be the shards' own: their digests are
    compared. ``baseline`` is the saved run the shards were judged against, if any
    (default: the shards' own, found by path or commit in the run store).
    """
    shards = sorted((read_shard(p) for p in paths), key=lambda s: s.index)
    check_shards(shards)
    config = load_config(rootdir, config_path)
    here = config_digest(config)
    theirs = shards[0].run.get("config_digest")
    if here != theirs:
        raise SavedRunError(
            f"the config file here ({config.path}, digest {here}) is not the one the shards "
            f"ran with (digest {theirs}): merge from the same checkout, or name it with --config"
        )
    merged = parse_run(f"{len(shards)} shards", _merged_document(shards))
    targets = tuple(merged.summaries)
    store = open_store(config.history.dir, config.rootdir)
    ref = baseline if baseline is not None else _recorded_baseline(shards[0])
    plan = plan_baseline(config, ref, store, targets)
    grouped = by_target(merged.scored)
    resolved, notes = plan.resolve(merged.summaries, grouped)
    shard_notes = [n for s in shards for n in s.document.get("notes", []) if isinstance(n, str)]
    kept = list(dict.fromkeys(n for n in shard_notes if not n.startswith("shard ")))
    judgement = assess(
        merged.summaries,
        merged.scored,
        budgets=config.budgets,
        gate=config.gate,
        candidate=plan.candidate,
        baseline=resolved,
        case_scopes=merged.scopes,
        notes=[*kept, *notes, f"merged from {len(shards)} shards: {', '.join(paths)}"],
    )
    runs = [s.run for s in shards]
    failed_items = sum(saved_count(r.get("failed_items")) for r in runs)
    judge_runs = [s.document["judge"] for s in shards if isinstance(s.document.get("judge"), dict)]
    from pytest_llmguard.execution import merge_judge_runs

    return Outcome(
        started_at=min(str(r.get("started_at", "")) for r in runs),
        finished_at=max(str(r.get("finished_at", "")) for r in runs),
        duration_s=max(float(r.get("duration_s") or 0.0) for r in runs),
        config_path=config.path,
        summaries=judgement.summaries,
        comparisons=judgement.comparisons,
        # a shard's failed case items failed its own job: the merged run fails too
        verdict=with_failed_items(judgement.verdict, failed_items),
        failed_items=failed_items,
        scored=merged.scored,
        cases={},
        targets={n: config.targets[n] for n in targets if n in config.targets},
        notes=judgement.notes,
        regressions=judgement.regressions,
        judge=merge_judge_runs(judge_runs),
        baseline=judgement.baseline,
        candidate=judgement.candidate,
        git={"commit": shards[0].commit, "branch": _branch(shards[0])},
        inputs_digest=str(shards[0].run.get("inputs_digest")),
        config_digest=here,
    )


def _branch(shard: Shard) -> str | None:
    git = shard.run.get("git")
    branch = git.get("branch") if isinstance(git, Mapping) else None
    return branch if isinstance(branch, str) else None


def _recorded_baseline(shard: Shard) -> str | None:
    """The saved run the shard was judged against, as a reference this machine can load."""
    info = shard.document.get("baseline")
    if not isinstance(info, Mapping) or info.get("source") != "saved":
        return None
    label = str(info.get("label") or "")
    if label and os.path.exists(label):
        return label
    commit = info.get("commit")
    if isinstance(commit, str) and commit:
        return commit
    raise SavedRunError(
        f"the shards were judged against saved run {label!r}: pass it with --baseline"
    )
