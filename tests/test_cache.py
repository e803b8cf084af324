from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import pytest

from pytest_llmguard.cache import MAX_PACKS, ResponseCache, compact, pack_line, request_key
from pytest_llmguard.records import ErrorRecord, Observation


def _obs(**kw: object) -> Observation:
    base: dict[str, object] = dict(
        case_key="s.yaml::a",
        target="t",
        repeat_index=0,
        model="m",
        output="hi",
        latency_ms=123.0,
        input_tokens=5,
        output_tokens=2,
        cost_usd=0.001,
    )
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


def test_roundtrip_keeps_timings_and_flags_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"model": "m", "messages": []}, 0)
    cache.put(key, _obs())
    hit = cache.get(key, case_key="other.yaml::b", target="u", repeat_index=0)
    assert hit is not None
    assert hit.cached and hit.latency_ms == 123.0 and hit.output == "hi"
    assert (hit.case_key, hit.target) == ("other.yaml::b", "u")


def test_errors_are_not_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"x": 1}, 0)
    cache.put(key, _obs(output=None, error=ErrorRecord("timeout", "slow")))
    assert cache.get(key, case_key="a", target="t", repeat_index=0) is None
    assert list(cache.keys()) == [] and not any(p.stat().st_size for p in tmp_path.rglob("*"))


def test_key_depends_on_request_and_repeat_only() -> None:
    a = request_key({"model": "m", "messages": [{"role": "user", "content": "x"}]}, 0)
    assert a == request_key({"messages": [{"role": "user", "content": "x"}], "model": "m"}, 0)
    assert a != request_key({"model": "m", "messages": [{"role": "user", "content": "y"}]}, 0)
    assert a != request_key({"model": "m", "messages": [{"role": "user", "content": "x"}]}, 1)


def test_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"x": 2}, 0)
    cache.put(key, _obs())
    path = next(tmp_path.glob("*.pack"))
    path.write_bytes(pack_line(key, b"{not json"))
    assert (
        ResponseCache(tmp_path, "record").get(key, case_key="a", target="t", repeat_index=0) is None
    )
    again = ResponseCache(tmp_path, "record")
    again.put(key, _obs())
    fresh = ResponseCache(tmp_path, "replay")
    hit = fresh.get(key, case_key="a", target="t", repeat_index=0)
    assert hit is not None and hit.output == "hi"


def test_cache_write_tokens_survive_the_cache_and_are_validated(tmp_path: Path) -> None:
    from dataclasses import replace

    obs = Observation("s.yaml::a", "t", 0, "claude-x", "hi", 12.0, input_tokens=900,
                      cached_tokens=500, cache_write_tokens=300)  # fmt: skip
    cache = ResponseCache(tmp_path, "record")
    cache.put("k" * 64, obs)
    hit = cache.get("k" * 64, case_key="s.yaml::a", target="t", repeat_index=0)
    assert hit == replace(obs, cached=True)
    with pytest.raises(ValueError, match="cache_write_tokens is not a count"):
        Observation.from_dict({**obs.to_dict(), "cache_write_tokens": -1})


# ---- the packed layout (issue #18) -----------------------------------------------------------


def _hit(cache: ResponseCache, key: str) -> Observation | None:
    return cache.get(key, case_key="s.yaml::a", target="t", repeat_index=0)


def test_a_recording_process_writes_one_pack_of_whole_lines(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    keys = [request_key({"i": i}, 0) for i in range(50)]
    for i, key in enumerate(keys):
        cache.put(key, _obs(output=f"line one {i}\nline two"))
    (pack,) = tmp_path.iterdir()
    assert pack.suffix == ".pack"
    lines = pack.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 51  # one line per entry: JSON escapes newlines
    key, crc, payload = lines[0].split(b" ", 2)
    assert key.decode() == keys[0] and int(crc, 16) == zlib.crc32(payload)
    assert json.loads(payload)["observation"]["output"] == "line one 0\nline two"
    replay = ResponseCache(tmp_path, "replay")
    assert sorted(replay.keys()) == sorted(keys)
    assert [(_hit(replay, k) or _obs()).output for k in keys[:2]] == [
        "line one 0\nline two",
        "line one 1\nline two",
    ]


def test_a_torn_tail_and_a_bad_checksum_are_misses_not_crashes(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    a, b, c = (request_key({"x": n}, 0) for n in "abc")
    cache.put(a, _obs())
    pack = next(tmp_path.glob("*.pack"))
    good = pack_line(b, json.dumps({"format": 1, "observation": _obs().to_dict()}).encode())
    flipped = good.replace(b'"hi"', b'"ho"')  # same length, checksum no longer matches
    pack.write_bytes(pack.read_bytes() + flipped + pack_line(c, b"{}")[:-5])  # c is torn
    replay = ResponseCache(tmp_path, "replay")
    assert _hit(replay, a) is not None
    assert _hit(replay, b) is None and _hit(replay, c) is None
    assert sorted(replay.keys()) == sorted([a, b])  # a torn tail is not an entry at all


def test_refresh_wins_over_the_earlier_pack(tmp_path: Path) -> None:
    key = request_key({"x": 1}, 0)
    ResponseCache(tmp_path, "record").put(key, _obs(output="old"))
    ResponseCache(tmp_path, "refresh").put(key, _obs(output="new"))
    assert len(list(tmp_path.glob("*.pack"))) == 2
    assert (_hit(ResponseCache(tmp_path, "replay"), key) or _obs()).output == "new"


def test_in_a_run_a_put_is_seen_by_the_next_get(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    first = request_key({"x": 1}, 0)
    assert _hit(cache, first) is None  # the index is loaded (empty)
    cache.put(first, _obs(output="now"))
    assert (_hit(cache, first) or _obs()).output == "now"


def test_packs_of_finished_writers_are_merged_latest_entry_winning(tmp_path: Path) -> None:
    keys = [request_key({"i": i}, 0) for i in range(MAX_PACKS + 3)]
    for i, key in enumerate(keys):
        cache = ResponseCache(tmp_path, "refresh")
        cache.put(keys[0], _obs(output=f"v{i}"))  # the same key in every pack: latest wins
        cache.put(key, _obs(output=key))
        cache.close()
    packs = sorted(p.name for p in tmp_path.glob("*.pack"))
    assert len(packs) <= MAX_PACKS and packs[0].endswith("~.pack")
    replay = ResponseCache(tmp_path, "replay")
    assert sorted(replay.keys()) == sorted(keys)
    assert all((_hit(replay, k) or _obs()).output == k for k in keys[1:])
    assert (_hit(replay, keys[0]) or _obs()).output == f"v{len(keys) - 1}"
    assert compact(str(tmp_path), max_packs=1)
    assert len(list(tmp_path.glob("*.pack"))) == 1
    assert sorted(ResponseCache(tmp_path, "replay").keys()) == sorted(keys)


def test_a_pack_being_written_and_every_later_one_are_never_merged(tmp_path: Path) -> None:
    key = request_key({"x": 1}, 0)
    first = ResponseCache(tmp_path, "record")
    first.put(request_key({"x": 0}, 0), _obs())
    first.close()
    writing = ResponseCache(tmp_path, "refresh")
    writing.put(key, _obs(output="early"))  # still open: its pack is locked
    for i in range(3):
        later = ResponseCache(tmp_path, "refresh")
        later.put(request_key({"later": i}, 0), _obs())
        later.close()
    assert not compact(str(tmp_path), max_packs=1)  # only one idle pack before the writer
    assert len(list(tmp_path.glob("*.pack"))) == 5
    writing.put(key, _obs(output="late"))  # its pack is whole and still appended to
    assert (_hit(ResponseCache(tmp_path, "replay"), key) or _obs()).output == "late"
    writing.close()
    assert compact(str(tmp_path), max_packs=1)
    assert (_hit(ResponseCache(tmp_path, "replay"), key) or _obs()).output == "late"


def test_entries_of_the_one_file_layout_are_still_read(tmp_path: Path) -> None:
    key = request_key({"x": "old"}, 0)
    legacy = tmp_path / key[:2] / f"{key}.json"
    legacy.parent.mkdir()
    legacy.write_text(json.dumps({"format": 1, "observation": _obs(output="legacy").to_dict()}))
    cache = ResponseCache(tmp_path, "record")
    assert (_hit(cache, key) or _obs()).output == "legacy"
    assert list(cache.keys()) == [key]


def test_a_forked_child_records_into_a_pack_of_its_own(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    cache.put(request_key({"x": "parent"}, 0), _obs())
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        cache.put(request_key({"x": "child"}, 0), _obs())
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert len(list(tmp_path.glob("*.pack"))) == 2
    assert len(set(ResponseCache(tmp_path, "replay").keys())) == 2


def test_a_lone_surrogate_in_an_output_is_stored_as_a_replacement_character(
    tmp_path: Path,
) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"x": "surrogate"}, 0)
    cache.put(key, _obs(output="hi \ud800"))
    assert (_hit(ResponseCache(tmp_path, "replay"), key) or _obs()).output == "hi \ufffd"
