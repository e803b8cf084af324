"""The streaming JSONL/NDJSON reader: tolerant of bad lines, exact line numbers, gzip."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmguard.documents import BadLine, JsonRecord, iter_json_lines, stream
from pytest_llmguard.exceptions import GoldenSetError, JsonLinesError, UsageError


@pytest.fixture(params=["orjson", "json"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every behaviour holds with orjson's fast path and with json alone."""
    if request.param == "json":
        monkeypatch.setattr(stream, "_loads", None)
    elif stream._loads is None:
        pytest.skip("orjson is not installed")
    yield request.param


def read(path: Path, **options: Any) -> tuple[list[tuple[int, Any]], list[BadLine], Any]:
    lines = iter_json_lines(path, display=path.name, **options)
    records = [(record.line, record.data) for record in lines]
    stats = lines.stats
    return records, list(stats.bad_samples), stats


def test_good_lines_with_their_line_numbers_and_path(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": [1, 2], "c": null}\n{"d": "caf\xc3\xa9"}\n')

    lines = iter_json_lines(path)
    first = next(lines)

    assert first == JsonRecord(str(path), 1, {"a": 1})
    assert [(r.line, r.data) for r in lines] == [(2, {"b": [1, 2], "c": None}), (3, {"d": "café"})]
    stats = lines.stats
    assert (stats.lines, stats.records, stats.blank_lines, stats.bad_lines) == (3, 3, 0, 0)
    assert stats.finished and not stats.compressed
    assert stats.summary() == f"{path}: 3 records, no bad lines"


def test_blank_lines_are_skipped_and_counted(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'\n{"a": 1}\n   \n\t\r\n\n{"b": 2}\n\n')

    records, bad, stats = read(path)

    assert records == [(2, {"a": 1}), (6, {"b": 2})]
    assert bad == []
    assert (stats.lines, stats.blank_lines) == (7, 5)


def test_a_broken_line_in_the_middle_is_counted_and_reading_goes_on(
    tmp_path: Path, parser: str
) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2\n{"a": 3}\n')

    records, bad, stats = read(path)

    assert records == [(1, {"a": 1}), (3, {"a": 3})]
    assert bad == [BadLine(2, "invalid JSON: Expecting ',' delimiter (column 8)")]
    assert stats.bad_lines == 1 and stats.finished
    assert stats.summary() == (
        "m.jsonl: 2 records, 1 bad line (first: line 2: invalid JSON: "
        "Expecting ',' delimiter (column 8))"
    )


def test_non_utf8_bytes(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "u.jsonl"
    # a stray Latin-1 byte, then UTF-16 surrogates encoded as UTF-8 (json.loads(bytes)
    # would accept those; UTF-8 does not)
    path.write_bytes(b'{"a": "caf\xe9"}\n{"b": "\xed\xa0\x80"}\n{"c": 1}\n')

    records, bad, _ = read(path)

    assert records == [(3, {"c": 1})]
    assert bad == [
        BadLine(1, "not valid UTF-8: byte 0xe9 at byte 11"),
        BadLine(2, "not valid UTF-8: byte 0xed at byte 8"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[1, 2]", "expected a JSON object, found a list"),
        (b"42", "expected a JSON object, found a number (42)"),
        (b'"text"', "expected a JSON object, found a string ('text')"),
        (b"null", "expected a JSON object, found null"),
        (b"true", "expected a JSON object, found a boolean (true)"),
    ],
)
def test_a_line_that_is_not_an_object(
    tmp_path: Path, parser: str, line: bytes, reason: str
) -> None:
    path = tmp_path / "n.jsonl"
    path.write_bytes(b'{"a": 1}\n' + line + b'\n{"b": 2}\n')

    records, bad, _ = read(path)

    assert records == [(1, {"a": 1}), (3, {"b": 2})]
    assert bad == [BadLine(2, reason)]


def test_deep_nesting_is_a_bad_line_not_a_crash(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "d.jsonl"
    deep = b'{"x": ' * 100_000 + b"1" + b"}" * 100_000
    path.write_bytes(b'{"a": 1}\n' + deep + b'\n{"b": 2}\n')

    records, bad, _ = read(path)

    assert records == [(1, {"a": 1}), (3, {"b": 2})]
    assert bad == [BadLine(2, "the JSON on this line is nested too deeply")]


def test_an_over_long_line_is_skipped_unread(tmp_path: Path, parser: str) -> None:
    at_cap = b'{"k": "' + b"y" * 91 + b'"}'
    one_over = b'{"k": "' + b"y" * 92 + b'"}'
    far_over = b'{"k": "' + b"z" * 200_000 + b'"}'
    assert (len(at_cap), len(one_over)) == (100, 101)  # bytes before the \n; a \r counts
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"\n".join([at_cap, one_over, far_over, at_cap + b"\r", b""]))

    records, bad, stats = read(path, max_line_bytes=100)

    assert [line for line, _ in records] == [1]
    assert bad == [
        BadLine(2, "longer than 100 bytes (max_line_bytes); skipped unread"),
        BadLine(3, "longer than 100 bytes (max_line_bytes); skipped unread"),
        BadLine(4, "longer than 100 bytes (max_line_bytes); skipped unread"),
    ]
    assert stats.lines == 4


def test_over_long_last_line_without_a_line_break(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"a": 1}\n' + b"x" * 1000)

    records, bad, _ = read(path, max_line_bytes=10)

    assert records == [(1, {"a": 1})]
    assert bad == [BadLine(2, "longer than 10 bytes (max_line_bytes); skipped unread")]


def test_crlf_line_endings_and_a_bom(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "w.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n{"b": "x\\r\\n"}\r\n')

    records, bad, _ = read(path)

    assert records == [(1, {"a": 1}), (3, {"b": "x\r\n"})]
    assert bad == []


def test_a_bom_after_the_first_line_is_a_bad_line(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'{"a": 1}\n\xef\xbb\xbf{"b": 2}\n')

    _, bad, _ = read(path)

    assert bad == [
        BadLine(2, "invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) (column 1)")
    ]


def test_truncated_last_line(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": "half a rec')

    records, bad, stats = read(path)

    assert records == [(1, {"a": 1}), (2, {"b": 2})]
    assert bad == [
        BadLine(
            3,
            "invalid JSON: Unterminated string starting at (column 7) "
            "(the file ends mid-line: truncated?)",
        )
    ]
    assert stats.finished


def test_a_complete_last_line_without_a_line_break_is_good(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}')

    assert read(path)[0] == [(1, {"a": 1}), (2, {"b": 2})]


CONTENT = b'{"a": 1}\n\n{"b": [1, 2]}\nnot json\n{"c": "\xc3\xa9"}\n'


@pytest.mark.parametrize("name", ["logs.jsonl.gz", "logs.jsonl", "logs.txt"])
def test_gzip_is_found_by_its_magic_bytes(tmp_path: Path, parser: str, name: str) -> None:
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(CONTENT)
    packed = tmp_path / name
    packed.write_bytes(gzip.compress(CONTENT))

    unpacked = read(packed)

    assert unpacked[0] == read(plain)[0] == [(1, {"a": 1}), (3, {"b": [1, 2]}), (5, {"c": "é"})]
    assert unpacked[1] == [BadLine(4, "invalid JSON: Expecting value (column 1)")]
    assert unpacked[2].compressed


def test_concatenated_gzip_members(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "rotated.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"b": 2}\n'))

    assert read(path)[0] == [(1, {"a": 1}), (2, {"b": 2})]


def test_a_truncated_gzip_stream_is_a_bad_line(tmp_path: Path, parser: str) -> None:
    data = b"".join(b'{"i": %d}\n' % i for i in range(1000))
    path = tmp_path / "cut.jsonl.gz"
    packed = gzip.compress(data)
    path.write_bytes(packed[: len(packed) // 2])

    records, bad, stats = read(path)

    assert [data for _, data in records] == [{"i": i} for i in range(len(records))]
    assert [line for line, _ in records] == list(range(1, len(records) + 1))
    assert 0 < len(records) < 1000
    assert bad == [
        BadLine(len(records) + 1, "the gzip data ends early (truncated file); reading stopped here")
    ]
    assert stats.finished and stats.compressed


def test_a_gzip_stream_cut_in_its_trailer_loses_no_line(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(b"".join(b'{"i": %d}\n' % i for i in range(5000)))[:-4])

    records, bad, _ = read(path)

    assert len(records) == 5000
    assert [b.line for b in bad] == [5001]


@pytest.mark.parametrize(
    ("damage", "records"),
    [
        (lambda packed: packed[:-8] + b"\0\0\0\0" + packed[-4:], 1000),  # the CRC is wrong
        (lambda packed: packed[:2] + b"\x63" + packed[3:], 0),  # unknown compression method
    ],
)
def test_a_corrupt_gzip_stream_is_a_bad_line(
    tmp_path: Path, parser: str, damage: Any, records: int
) -> None:
    packed = gzip.compress(b"".join(b'{"i": %d}\n' % i for i in range(1000)))
    path = tmp_path / "bad.gz"
    path.write_bytes(damage(packed))

    good, bad, stats = read(path)

    assert len(good) == records
    assert len(bad) == 1 and bad[0].line == records + 1
    assert bad[0].reason.startswith("the gzip data is corrupt (")
    assert bad[0].reason.endswith("); reading stopped here")
    assert stats.finished


def test_strict_mode_raises_at_the_first_bad_line(tmp_path: Path, parser: str) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": 2\n[]\n')
    lines = iter_json_lines(path, strict=True, display="logs/app.jsonl")

    assert next(lines).data == {"a": 1}
    with pytest.raises(JsonLinesError) as info:
        next(lines)

    assert str(info.value) == "logs/app.jsonl:3: invalid JSON: Expecting ',' delimiter (column 8)"
    assert isinstance(info.value, UsageError)
    assert (info.value.file, info.value.line) == ("logs/app.jsonl", 3)
    assert lines.stats.bad_lines == 1 and not lines.stats.finished


def test_strict_mode_raises_the_given_error_class(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n')[:-4])

    with pytest.raises(GoldenSetError) as info:
        list(iter_json_lines(path, strict=True, error=GoldenSetError, display="g"))

    assert str(info.value) == "g:2: the gzip data ends early (truncated file); reading stopped here"


def test_bad_lines_are_all_counted_and_the_first_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"".join(b"oops\n" if i % 2 else b'{"i": 1}\n' for i in range(100)))

    records, bad, stats = read(path, max_samples=5)

    assert len(records) == 50 and stats.bad_lines == 50
    assert [b.line for b in bad] == [2, 4, 6, 8, 10]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "missing.jsonl: file not found"),
        (lambda p: p.mkdir() or p, "missing.jsonl: is a directory, expected a file"),
        (
            lambda p: p.write_bytes('{"a": 1}\n'.encode("utf-16")) and p,
            "missing.jsonl:1: file is UTF-16 encoded; it must be UTF-8\n"
            "  hint: re-save the file as UTF-8",
        ),
    ],
)
def test_a_file_that_cannot_be_read_at_all_raises(tmp_path: Path, make: Any, message: str) -> None:
    path = make(tmp_path / "missing.jsonl")
    lines = iter_json_lines(path, display="missing.jsonl")

    with pytest.raises(JsonLinesError) as info:
        next(lines)

    assert str(info.value) == message


def test_closing_early_closes_the_file_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n')

    with iter_json_lines(path, display="a.jsonl") as lines:
        assert next(lines).line == 1
        assert lines.stats.records == 1

    assert list(lines) == []
    assert lines.stats.summary() == "a.jsonl: 1 record, no bad lines (not read to the end)"


def test_max_line_bytes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        iter_json_lines(tmp_path / "x", max_line_bytes=0)


# ---- orjson and json give identical records

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**19]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.1, 1e-300, 5e-324, 1.7976931348623157e308, 123456789.123456789]),
    st.text(max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _exact(value: Any) -> Any:
    """A form in which equal means identical: types kept, floats by their bits."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    if isinstance(value, dict):
        return ("dict", [(k, _exact(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_exact(v) for v in value])
    return (type(value).__name__, value)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        st.dictionaries(st.text(max_size=8), _values, max_size=4), min_size=1, max_size=3
    ),
    ascii_only=st.booleans(),
)
def test_orjson_and_json_give_identical_records(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], ascii_only: bool
) -> None:
    if stream._loads is None:
        pytest.skip("orjson is not installed")
    path = tmp_path_factory.getbasetemp() / "orjson_and_json.jsonl"  # rewritten each example
    text = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in records)
    # hand-written lines json.dumps does not make: duplicate keys, escapes, exponents
    text += '{"k": 1, "k": 2, "a": 3}\n{"e": 1E400, "n": -0, "f": -0.0, "s": "\\ud800"}\n'
    text += '{"d": ' * 300 + "1" + "}" * 300 + "\n"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))

    fast = [_exact(r.data) for r in iter_json_lines(path)]
    saved = stream._loads
    stream._loads = None
    try:
        plain = [_exact(r.data) for r in iter_json_lines(path)]
    finally:
        stream._loads = saved

    assert fast == plain
    assert len(fast) == len(records) + 3


# ---- memory stays flat, whatever the size of the file

MEMORY_CHECK = textwrap.dedent(
    """
    import re, sys
    from pytest_llmguard.documents import iter_json_lines

    def kib(field):
        with open("/proc/self/status") as status:
            return int(re.search(field + r":\\s+(\\d+) kB", status.read()).group(1))

    lines = iter_json_lines(sys.argv[1], max_line_bytes=1 << 20)
    before = kib("VmRSS")
    records = sum(1 for _ in lines)
    print(records, lines.stats.bad_lines, (kib("VmHWM") - before) // 1024)
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_memory_stays_flat_on_a_200_mb_file(tmp_path: Path) -> None:
    record = {
        "request": {"model": "m", "messages": [{"role": "user", "content": "q " * 600}]},
        "response": {"choices": [{"message": {"content": "answer " * 200}}]},
    }
    block = (json.dumps(record) + "\n").encode() * 1000  # ~2.7 MB
    path = tmp_path / "big.jsonl"
    repeats = 200_000_000 // len(block) + 1
    with open(path, "wb") as fh:
        for index in range(repeats):
            fh.write(block)
            if index == repeats // 2:  # one 50 MB line, far over the 1 MB cap
                fh.write(b'{"x": "' + b"y" * 50_000_000 + b'"}\n')
    assert path.stat().st_size > 200_000_000

    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHECK, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    records, bad, grown_mb = map(int, done.stdout.split())

    assert (records, bad) == (repeats * 1000, 1)
    assert grown_mb < 30, f"peak RSS grew by {grown_mb} MB reading a 250 MB file"
