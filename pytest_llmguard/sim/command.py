"""``llmguard sim``: run the simulator in the foreground, or measure its capacity.

    llmguard sim [--host 127.0.0.1] [--port 8400] [--seed 0] [--latency-scale 1.0]
                 [--noise-sigma 0.05] [--answers answers.yaml] [--require-api-key KEY]
    llmguard sim --capacity [--connections 64] [--duration 2.0]

The first line printed is ``llmguard sim: serving http://HOST:PORT/v1`` (scripts and
``run_capacity_check`` read it). Stops cleanly (exit 0) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pytest_llmguard.exceptions import ConfigError, LLMGuardError
from pytest_llmguard.sim.capacity import run_capacity_check
from pytest_llmguard.sim.models import SimModel
from pytest_llmguard.sim.server import SimServer

EXIT_OK = 0
EXIT_USAGE = 4


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``llmguard sim``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.capacity:
            rate = run_capacity_check(connections=args.connections, duration_s=args.duration)
            print(
                f"llmguard sim: capacity {rate:,.0f} requests/s "
                f"({args.connections} keep-alive connections, {args.duration:g} s, "
                "client in a separate process)"
            )
            return EXIT_OK
        answers = _load_answers(args.answers) if args.answers else {}
        models = None
        if args.config is not None:
            config_answers, models = _from_config(args.config or None)
            answers = {**config_answers, **answers}
        server = SimServer(
            models=models,
            answers=answers or None,
            seed=args.seed,
            noise_sigma=args.noise_sigma,
            host=args.host,
            port=args.port,
            require_api_key=args.require_api_key,
            latency_scale=args.latency_scale,
        )
        # Own process: fewer young-generation collections buy ~10 % throughput under load
        # (every request allocates a few dicts). Never done in-process (SimServer).
        gc.set_threshold(50_000, 20, 100)
        asyncio.run(_serve(server))
    except LLMGuardError as exc:
        print(f"llmguard sim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # platforms without loop signal handlers
        pass
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmguard sim", description="Run the OpenAI-compatible LLM simulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8400, help="port, 0 = any (default: 8400)")
    parser.add_argument("--seed", type=int, default=0, help="answer and noise seed (default: 0)")
    parser.add_argument(
        "--latency-scale", type=_non_negative, default=1.0, help="multiply latencies (default: 1)"
    )
    parser.add_argument(
        "--noise-sigma", type=_non_negative, default=0.05, help="latency noise (default: 0.05)"
    )
    parser.add_argument(
        "--answers", metavar="PATH", help="JSON or YAML mapping of prompt to reference answer"
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        nargs="?",
        const="",
        help="answer the golden sets of an llmguard config (default file if PATH is omitted) "
        "and serve its sim.models",
    )
    parser.add_argument(
        "--require-api-key", metavar="KEY", help="reject requests without this bearer token"
    )
    parser.add_argument(
        "--capacity", action="store_true", help="measure requests/s in a subprocess, then exit"
    )
    parser.add_argument("--connections", type=int, default=64, help="for --capacity (default: 64)")
    parser.add_argument(
        "--duration", type=_non_negative, default=2.0, help="for --capacity, seconds (default: 2)"
    )
    return parser


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _load_answers(path: str) -> dict[str, str]:
    """Read a prompt -> answer mapping from a JSON or YAML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the answers file: {exc.strerror}", file=path) from None
    try:
        raw: Any = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"not valid JSON/YAML: {exc}", file=path) from None
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ConfigError(
            "must be a mapping of prompt (string) to reference answer (string)", file=path
        )
    return dict(raw)


def _from_config(path: str | None) -> tuple[dict[str, str], dict[str, SimModel]]:
    """The answer book of a config's golden sets, and its ``sim.models``."""
    from pytest_llmguard.config import load_config
    from pytest_llmguard.golden import load_golden_sets
    from pytest_llmguard.sim.models import load_models
    from pytest_llmguard.sim.provider import answer_book

    config = load_config(str(Path.cwd()), path)
    if config.path is None:
        raise ConfigError("no llmguard config found (llmguard.yaml or [tool.llmguard])")
    cases = [case for golden in load_golden_sets(config) for case in golden.cases]
    return answer_book(cases), load_models(config.sim)


async def _serve(server: SimServer) -> None:
    await server.start()
    print(f"llmguard sim: serving {server.base_url}", flush=True)
    print(f"models: {', '.join(server.models)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no loop signal handlers: Ctrl-C arrives as KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    sys.exit(main())
