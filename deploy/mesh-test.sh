#!/usr/bin/env bash
# `make mesh-test`: three khulasa-server replicas on loopback, then two
# passes of `khulasa batch` over N ANT articles, each while one replica is
# killed (SIGKILL) and another drained (SIGTERM), both restarted mid-pass:
#
#   pass 1  through nginx (`grpc_pass` to an upstream of the 3 replicas)
#   pass 2  client-side balancing (`--endpoint` given three times)
#
# A pass passes when the batch exits 0 and its JSONL output has exactly one
# successful record for every input id: no error record, no duplicate, no
# stray id. Exit status 0 only if both pass.
#
# Environment: MESH_ARTICLES (default 200), MESH_MAX_CHARS (longest article
# text kept, default 1200), MESH_BASE_PORT (default 52000; nginx listens on
# it, replicas on the next three), ANT (the ANT corpus JSONL, default
# ../shared/data/ant_articles.jsonl), MESH_KEEP=1 keeps the work directory.
# Needs target/release/{khulasa-server,khulasa} (the Makefile builds them),
# models/ (make models), python3, and nginx (installed with apt-get if
# missing and running as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${MESH_ARTICLES:-200}
MAX_CHARS=${MESH_MAX_CHARS:-1200}
BASE=${MESH_BASE_PORT:-52000}
ANT=${ANT:-../shared/data/ant_articles.jsonl}
SERVER=$PWD/target/release/khulasa-server
CLIENT=$PWD/target/release/khulasa
MODELS=$PWD/models
PROXY_PORT=$BASE
PORTS=($((BASE + 1)) $((BASE + 2)) $((BASE + 3)))
CONCURRENCY=8

say() { printf 'mesh-test: %s\n' "$*" >&2; }
die() { printf 'mesh-test: error: %s\n' "$*" >&2; exit 1; }

[[ -x $SERVER && -x $CLIENT ]] || die "build first: cargo build --release --workspace --bins"
[[ -f $ANT ]] || die "no ANT corpus at $ANT (set ANT=path/to/ant_articles.jsonl)"
command -v python3 >/dev/null || die "python3 not found"
if ! command -v nginx >/dev/null; then
  [[ $EUID -eq 0 ]] || die "nginx not found; install it with: apt-get install nginx-light"
  say "installing nginx from Debian"
  apt-get update -qq
  # nginx-light (bookworm) has the gRPC proxy module; trixie only has nginx.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
NGINX=$(command -v nginx)

W=$(mktemp -d "${TMPDIR:-/tmp}/khulasa-mesh.XXXXXX")
declare -A PIDS=()
NGINX_PID=
BATCH_PID=
cleanup() {
  local rc=$?
  [[ -n $BATCH_PID ]] && kill -9 "$BATCH_PID" 2>/dev/null
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null
  for i in "${!PIDS[@]}"; do kill -9 "${PIDS[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $rc -ne 0 || -n ${MESH_KEEP:-} ]]; then
    say "logs and outputs kept in $W"
  else
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- input: the first N articles with text, cut to MAX_CHARS at a space ----
python3 - "$ANT" "$N" "$MAX_CHARS" >"$W/articles.jsonl" <<'EOF'
import json, sys
path, n, max_chars = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = 0
with open(path, encoding="utf-8") as f:
    for line in f:
        a = json.loads(line)
        text = a.get("text", "").strip()
        if not text or not a.get("docno"):
            continue
        if len(text) > max_chars:
            cut = text.rfind(" ", 0, max_chars)
            text = text[: cut if cut > 0 else max_chars]
        print(json.dumps({"id": a["docno"], "text": text}, ensure_ascii=False))
        seen += 1
        if seen == n:
            break
if seen < n:
    sys.exit(f"only {seen} articles with text in {path}")
EOF
sort -u <(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]' <"$W/articles.jsonl") |
  wc -l | { read -r u; [[ $u -eq $N ]] || die "input ids are not unique ($u of $N)"; }

# ---- replicas --------------------------------------------------------------
start_replica() { # $1 = index 0..2
  local i=$1
  # One ONNX thread each: three replicas share the machine's cores. No
  # HTTP API: the replicas would share its default port.
  KHULASA_LISTEN=127.0.0.1:${PORTS[$i]} KHULASA_HTTP_LISTEN='' KHULASA_MODELS=$MODELS KHULASA_INTRA_THREADS=1 \
    KHULASA_DRAIN_SECONDS=30 RUST_LOG=info,ort=warn \
    "$SERVER" >>"$W/replica-$i.log" 2>&1 &
  PIDS[$i]=$!
}

wait_serving() { # $1 = index; waits until the replica reports SERVING
  local i=$1 deadline=$((SECONDS + 180))
  until "$CLIENT" --timeout 2 --endpoint "127.0.0.1:${PORTS[$i]}" health >/dev/null 2>&1; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || die "replica $i exited while starting (see $W/replica-$i.log)"
    ((SECONDS < deadline)) || die "replica $i not SERVING after 180 s"
    sleep 0.5
  done
}

for i in 0 1 2; do start_replica "$i"; done
t0=$SECONDS
for i in 0 1 2; do wait_serving "$i"; done
say "3 replicas SERVING on ports ${PORTS[*]} ($((SECONDS - t0)) s)"

# ---- nginx -----------------------------------------------------------------
mkdir -p "$W/nginx"
cat >"$W/nginx/nginx.conf" <<EOF
# One process, no privilege drop: a test harness, not a production proxy.
daemon off;
master_process off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log $W/nginx/access.log;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  upstream khulasa {
    server 127.0.0.1:${PORTS[0]} max_fails=1 fail_timeout=3s;
    server 127.0.0.1:${PORTS[1]} max_fails=1 fail_timeout=3s;
    server 127.0.0.1:${PORTS[2]} max_fails=1 fail_timeout=3s;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$PROXY_PORT http2;
    location / {
      grpc_pass grpc://khulasa;
      # Analyze is idempotent, so a request may go to another replica even
      # after it was sent to one that then died.
      grpc_next_upstream error timeout http_502 http_503 non_idempotent;
      grpc_next_upstream_tries 3;
      grpc_connect_timeout 2s;
      grpc_read_timeout 120s;
      grpc_send_timeout 120s;
      # A request already sent to a replica that dies cannot go to another
      # one (nginx streams gRPC request bodies, nothing left to resend), and
      # nginx's own 502 page is no gRPC answer. Say UNAVAILABLE in gRPC
      # instead, which clients retry.
      error_page 502 503 504 = @unavailable;
    }
    location @unavailable {
      default_type application/grpc;
      add_header grpc-status 14 always;
      add_header grpc-message "upstream unavailable" always;
      return 204;
    }
  }
}
EOF
"$NGINX" -t -p "$W/nginx" -c "$W/nginx/nginx.conf" 2>"$W/nginx/test.log" ||
  { cat "$W/nginx/test.log" >&2; die "nginx rejected its configuration"; }
"$NGINX" -p "$W/nginx" -c "$W/nginx/nginx.conf" 2>>"$W/nginx/error.log" &
NGINX_PID=$!
deadline=$((SECONDS + 30))
until "$CLIENT" --timeout 2 --endpoint "127.0.0.1:$PROXY_PORT" health >/dev/null 2>&1; do
  kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited (see $W/nginx/error.log)"
  ((SECONDS < deadline)) || die "no SERVING answer through nginx after 30 s"
  sleep 0.2
done
say "nginx $("$NGINX" -v 2>&1 | sed 's/.*: //') proxying on 127.0.0.1:$PROXY_PORT"

# ---- one pass ----------------------------------------------------------------
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

wait_lines() { # $1 = file, $2 = count; while the batch runs
  until (($(lines "$1") >= $2)); do
    kill -0 "$BATCH_PID" 2>/dev/null || return 0
    sleep 0.2
  done
}

check_output() { # $1 = output JSONL; every input id exactly once, all successes
  python3 - "$W/articles.jsonl" "$1" <<'EOF'
import collections, json, sys
want = [json.loads(l)["id"] for l in open(sys.argv[1], encoding="utf-8")]
ok, errors, bad = collections.Counter(), [], 0
for line in open(sys.argv[2], encoding="utf-8"):
    try:
        rec = json.loads(line)
    except ValueError:
        bad += 1
        continue
    if "error" in rec:
        errors.append(rec)
    else:
        ok[rec["id"]] += 1
missing = [i for i in want if ok[i] == 0]
dupes = {i: c for i, c in ok.items() if c > 1}
stray = set(ok) - set(want)
problems = []
if missing: problems.append(f"{len(missing)} ids without a result, e.g. {missing[:3]}")
if dupes: problems.append(f"{len(dupes)} ids with more than one result, e.g. {list(dupes.items())[:3]}")
if stray: problems.append(f"{len(stray)} ids not in the input, e.g. {sorted(stray)[:3]}")
if errors: problems.append(f"{len(errors)} error records, e.g. {errors[:2]}")
if bad: problems.append(f"{bad} unreadable lines")
if problems:
    sys.exit("; ".join(problems))
print(f"{len(want)} ids, each with exactly one successful result, no errors")
EOF
}

run_pass() { # $1 = name, rest = endpoint flags
  local name=$1 out="$W/$1.jsonl" log="$W/$1.log"
  shift
  local t0=$SECONDS
  # Debug logs of the endpoint pool say each retry, for the count below.
  RUST_LOG=warn,khulasa_client::endpoints=debug \
    "$CLIENT" "$@" --timeout 60 batch --input "$W/articles.jsonl" --output "$out" \
    --concurrency "$CONCURRENCY" 2>"$log" &
  BATCH_PID=$!

  wait_lines "$out" $((N / 4))
  say "$name: $(lines "$out") done; SIGKILL replica 0 (pid ${PIDS[0]})"
  kill -9 "${PIDS[0]}"
  wait "${PIDS[0]}" 2>/dev/null || true

  wait_lines "$out" $((N / 2))
  say "$name: $(lines "$out") done; SIGTERM replica 1 (pid ${PIDS[1]}), it drains"
  kill -TERM "${PIDS[1]}"
  local drain_rc=0
  wait "${PIDS[1]}" || drain_rc=$?
  say "$name: replica 1 exited with status $drain_rc after draining; $(lines "$out") done"
  ((drain_rc == 0)) || die "replica 1 did not exit cleanly on SIGTERM (status $drain_rc)"

  start_replica 0
  start_replica 1
  say "$name: replicas 0 and 1 restarted"

  local rc=0
  wait "$BATCH_PID" || rc=$?
  BATCH_PID=
  local took=$((SECONDS - t0))
  wait_serving 0
  wait_serving 1
  tail -n 1 "$log" | sed "s/^/mesh-test: $name: batch: /" >&2
  local verdict
  if ! verdict=$(check_output "$out" 2>&1); then
    say "$name: FAIL in $took s (batch exit status $rc): $verdict"
    return 1
  fi
  if ((rc != 0)); then
    tail -n 20 "$log" >&2
    say "$name: FAIL in $took s: khulasa batch exited with status $rc"
    return 1
  fi
  local retries
  retries=$(grep -c 'retrying on the next endpoint' "$log" || true)
  say "$name: PASS in $took s: $verdict; $retries calls retried by the client"
}

failed=0
run_pass nginx --endpoint "127.0.0.1:$PROXY_PORT" || failed=1
run_pass client-side --endpoint "127.0.0.1:${PORTS[0]}" --endpoint "127.0.0.1:${PORTS[1]}" \
  --endpoint "127.0.0.1:${PORTS[2]}" || failed=1
# Replica 2 ran through both passes: its high-water mark of resident memory
# is what one replica needs (Kubernetes memory limit: deploy/k8s).
hwm=$(awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/${PIDS[2]}/status" 2>/dev/null || true)
say "peak RSS of replica 2 over both passes: ${hwm:-unknown}"
((failed == 0)) || die "a pass failed (see above)"
say "PASS: $N articles through nginx and through client-side balancing, one replica killed and one drained in each"
