#!/usr/bin/env bash
# Soak run: a release server on a free port under SOAK_SECONDS of mixed load
# from SOAK_CLIENTS clients (scripts/soak/driver.py). Leaves the Markdown
# report, its JSON summary and the server log in SOAK_OUT; exits non-zero on
# any panic, lost result or unexpected status.
set -euo pipefail

cd "$(dirname "$0")/../.."
SERVER=${SERVER:-target/release/khulasa-server}
PYTHON=${PYTHON:-.venv-soak/bin/python}
GEN=${GEN:-.venv-soak/gen}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_CLIENTS=${SOAK_CLIENTS:-4}
SOAK_OUT=${SOAK_OUT:-soak-out}
SOAK_ARTICLES=${SOAK_ARTICLES:-../shared/data/ant_articles.jsonl}
SOAK_SERVER_ARGS=${SOAK_SERVER_ARGS:-}

[[ -f $SOAK_ARTICLES ]] || { echo "error: no articles at $SOAK_ARTICLES (set SOAK_ARTICLES)" >&2; exit 2; }
mkdir -p "$SOAK_OUT"
log="$SOAK_OUT/server.log"

# Port 0: the server picks a free port and logs it.
# shellcheck disable=SC2086
RUST_LOG=${RUST_LOG:-info} "$SERVER" --listen 127.0.0.1:0 --http-listen '' --log-format json --drain-seconds 5 \
    $SOAK_SERVER_ARGS >"$log" 2>&1 &
pid=$!
stop_server() {
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap stop_server EXIT

addr=""
for _ in $(seq 600); do
    addr=$(grep -m1 '"listening"' "$log" | sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' || true)
    [[ -n $addr ]] && break
    kill -0 "$pid" 2>/dev/null || { echo "error: server exited:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.5
done
[[ -n $addr ]] || { echo "error: server did not report its address" >&2; exit 1; }
echo "server pid $pid on $addr; load for ${SOAK_SECONDS}s from $SOAK_CLIENTS clients"

status=0
"$PYTHON" scripts/soak/driver.py --target "$addr" --server-pid "$pid" --server-log "$log" \
    --gen "$GEN" --articles "$SOAK_ARTICLES" --seconds "$SOAK_SECONDS" --clients "$SOAK_CLIENTS" \
    --report "$SOAK_OUT/report.md" ${SOAK_DRIVER_ARGS:-} || status=$?

stop_server
trap - EXIT
# The server must also shut down cleanly, without a panic on the way out.
if grep -q panicked "$log"; then
    echo "error: the server log has a panic" >&2
    status=1
fi
echo "report: $SOAK_OUT/report.md"
exit "$status"
