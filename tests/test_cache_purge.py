"""Purge on the packed cache: by age (``stored_at``; a legacy file's mtime), by content
(prompt, output, error; a damaged entry's raw bytes), each pack rewritten atomically under
the name it had, a pack a live process is writing left alone, the compaction lock waited
for, and the count is of entries removed."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from pytest_llmguard.cache import ResponseCache, pack_line, request_key
from pytest_llmguard.cache_packs import LOCK_NAME, fcntl
from pytest_llmguard.records import ErrorRecord, Observation

SECRET = "Erase.Me@example.com"
DAY = 86400.0


def _obs(output: str = "hi", error: ErrorRecord | None = None) -> Observation:
    return Observation("s.yaml::a", "t", 0, "m", output, 12.0, output_tokens=2, error=error)


def _hit(cache: ResponseCache, key: str) -> Observation | None:
    return cache.get(key, case_key="s.yaml::a", target="t", repeat_index=0)


def _put_at(
    cache: ResponseCache, key: str, obs: Observation, when: float, prompt: str = ""
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: when)
        cache.put(key, obs, [prompt])


def _text(directory: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in directory.rglob("*.pack"))


def test_by_content_lines_go_and_the_rest_of_the_pack_stays_in_order(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    k1, k2, k3 = (request_key({"x": i}, 0) for i in range(3))
    cache.put(k1, _obs("plain"), ["hello"])
    cache.put(k2, _obs(f"to {SECRET.upper()}"), ["hello"])  # case-insensitive
    cache.put(k3, _obs("old answer"), [f"I am {SECRET}"])
    cache.put(k3, _obs("new answer"), ["I am [REDACTED]"])  # a later line for the same key
    cache.close()
    (pack,) = tmp_path.glob("*.pack")
    damaged = b'{"said": "%s"}' % SECRET.encode()
    with open(pack, "ab") as fh:  # a line whose checksum fails, then a torn tail
        fh.write(pack_line(request_key({"x": 9}, 0), damaged).replace(b'"said"', b'"SAID"'))
        fh.write(request_key({"x": 8}, 0).encode() + b" 00000000 " + SECRET.encode())
    assert ResponseCache(tmp_path, "record").purge(containing="output") == 0  # no field names
    assert ResponseCache(tmp_path, "record").purge(containing=SECRET) == 4
    assert [p.name for p in tmp_path.glob("*.pack")] == [pack.name]  # rewritten in place
    assert SECRET.casefold() not in _text(tmp_path).casefold()
    replay = ResponseCache(tmp_path, "replay")
    assert (_hit(replay, k1) or _obs()).output == "plain" and _hit(replay, k2) is None
    assert (_hit(replay, k3) or _obs()).output == "new answer"
    assert sorted(replay.keys()) == sorted([k1, k3])


def test_text_json_escapes_is_found_in_a_damaged_entry(tmp_path: Path) -> None:
    key = request_key({"x": 1}, 0)
    ResponseCache(tmp_path, "record").put(key, _obs('He said "halt now"'))
    (pack,) = tmp_path.glob("*.pack")
    pack.write_bytes(pack.read_bytes().replace(b"halt", b"HALT"))  # its checksum fails
    assert ResponseCache(tmp_path, "record").purge(containing='SAID "HALT') == 1
    assert not list(tmp_path.glob("*.pack"))  # a pack left empty is removed


def test_by_age_stored_at_for_packs_and_mtime_for_legacy_files(tmp_path: Path) -> None:
    now = time.time()
    cache = ResponseCache(tmp_path, "record")
    old, young = request_key({"x": "old"}, 0), request_key({"x": "young"}, 0)
    _put_at(cache, old, _obs("old"), now - 40 * DAY)
    _put_at(cache, young, _obs("young"), now - DAY)
    cache.close()
    (pack,) = tmp_path.glob("*.pack")
    os.utime(pack, (now - 90 * DAY, now - 90 * DAY))  # a pack's mtime says nothing here
    legacy = {}
    for name, age in (("legacy-old", 40), ("legacy-young", 1)):
        key = request_key({"x": name}, 0)
        path = tmp_path / key[:2] / f"{key}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"format": 1, "observation": _obs(name).to_dict()}))
        os.utime(path, (now - age * DAY, now - age * DAY))
        legacy[name] = key
    purging = ResponseCache(tmp_path, "record")
    assert purging.purge(older_than=now - 30 * DAY) == 2
    assert sorted(purging.keys()) == sorted([young, legacy["legacy-young"]])
    assert _hit(purging, old) is None and (_hit(purging, young) or _obs()).output == "young"


@pytest.mark.skipif(fcntl is None, reason="no flock: no way to tell a pack being written")
def test_a_pack_being_written_is_left_alone_until_its_writer_is_done(tmp_path: Path) -> None:
    writer = ResponseCache(tmp_path, "record")
    first, second = request_key({"x": 1}, 0), request_key({"x": 2}, 0)
    writer.put(first, _obs(), [SECRET])
    assert ResponseCache(tmp_path, "record").purge(containing=SECRET) == 0  # it may append
    writer.put(second, _obs(), [SECRET])  # nothing it wrote was lost
    assert sorted(ResponseCache(tmp_path, "replay").keys()) == sorted([first, second])
    writer.close()
    assert ResponseCache(tmp_path, "record").purge(containing=SECRET) == 2
    assert not list(tmp_path.glob("*.pack"))


def test_the_purging_cache_releases_its_own_pack_first(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"x": 1}, 0)
    cache.put(key, _obs(), [SECRET])
    assert _hit(cache, key) is not None
    assert cache.purge(containing=SECRET) == 1
    assert _hit(cache, key) is None  # its index forgot the removed line
    cache.put(key, _obs("again"))  # and a later put starts a new pack
    assert (_hit(ResponseCache(tmp_path, "replay"), key) or _obs()).output == "again"


def test_errors_are_never_stored_so_never_purged(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    cache.put(request_key({"x": 1}, 0), _obs(error=ErrorRecord("timeout", SECRET)), [SECRET])
    assert cache.purge(containing=SECRET) == 0 and SECRET not in _text(tmp_path)


@pytest.mark.skipif(fcntl is None, reason="no flock")
def test_a_purge_waits_for_a_compaction_in_progress(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    cache.put(request_key({"x": 1}, 0), _obs(), [SECRET])
    cache.close()
    lock = os.open(tmp_path / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another process compacting
    counts: list[int] = []
    purge = threading.Thread(target=lambda: counts.append(cache.purge(containing=SECRET)))
    purge.start()
    purge.join(0.3)
    assert purge.is_alive() and not counts  # waiting, not skipped
    os.close(lock)
    purge.join(10)
    assert counts == [1]
