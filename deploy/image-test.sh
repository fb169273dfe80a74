#!/usr/bin/env bash
# deploy/image-test.sh (`make image-test`): builds the image, runs it the way a platform runs it, and drives real
# runs through it. Minutes, not seconds: not part of `make test`. Run it whenever the Dockerfile, the
# dependencies or the entrypoint change.
#
# Checks, in order (any failure exits 1):
#   build       the Dockerfile as is; prints the build time and the image size (fails above MAX_IMAGE_MB)
#   packages    no installed distribution matches FORBID_PACKAGES (nvidia|cuda|triton)
#   start       non-root, read-only root filesystem, /data (a volume) and /tmp (tmpfs) writable, nothing but
#               a port and the volume given; prints the time to the first 200 from /health; HEALTHCHECK exits 0
#   runs        a scripted run through POST /start and its SSE stream, and a second one whose memory search
#               embeds with MiniLM inside the container (offline); then RSS idle and under LOAD_RUNS at once
#   stop        SIGTERM during a run: the server checkpoints and exits 0 within the grace period
#   restart     a new container on the same volume: the finished runs are still there, the interrupted one
#               resumes from its checkpoint and completes
#
# Engines: Docker where a Docker engine answers (`docker info`), else buildah (root on Debian) through
# ../shared/tools/image-check/build_check.sh, whose container then runs under unshare + chroot: own mount and
# PID namespaces, the image's rootfs bind-mounted read-only, the agent as PID 1, the host's network (there is
# no -p here: the test sets PORT instead).
#
# Knobs: IMAGE, PORT (18080), MAX_IMAGE_MB (1400), FORBID_PACKAGES, LOAD_RUNS (5), ENGINE (auto|docker|buildah),
# TORCH_INDEX_URL (unset: PyTorch's CPU index when reachable, else pip's find-links wheels served on loopback
# by image-check/serve_wheels.sh), IMAGE_CHECK_DIR, KEEP_IMAGE=1, STORAGE_DRIVER (overlay), LAYERS (1).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-localhost/agent-container:image-test}
PORT=${PORT:-18080}
MAX_IMAGE_MB=${MAX_IMAGE_MB:-1400}
FORBID_PACKAGES=${FORBID_PACKAGES:-nvidia|cuda|triton}
LOAD_RUNS=${LOAD_RUNS:-5}
ENGINE=${ENGINE:-auto}
IMAGE_CHECK_DIR=${IMAGE_CHECK_DIR:-$ROOT/../shared/tools/image-check}
export STORAGE_DRIVER=${STORAGE_DRIVER:-overlay} LAYERS=${LAYERS:-1}
UID_IN_IMAGE=10001
GRACE_S=30                      # docker stop -t / stop_grace_period / terminationGracePeriodSeconds
TOKEN=image-test-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d /tmp/image-test.XXXXXX)
VOLUME=$WORK/data               # the /data volume, kept across the restart
mkdir -p "$VOLUME/scripts"
SUMMARY=()
CTR=""; CPID=""; RUNNER_PID=""; WHEELS_PID=""; NCTR=0

log() { printf '[image-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
note() { SUMMARY+=("$1"); log "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$ENGINE" != auto ] || { if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=buildah; fi; }
case $ENGINE in docker | buildah) ;; *) fail "ENGINE must be auto, docker or buildah" ;; esac
for tool in curl jq; do command -v $tool >/dev/null || fail "$tool is needed"; done
if [ "$ENGINE" = buildah ]; then
  [ "$(id -u)" = 0 ] || fail "the buildah engine needs root (chroot isolation, namespaces)"
  [ -x "$IMAGE_CHECK_DIR/build_check.sh" ] || fail "no $IMAGE_CHECK_DIR/build_check.sh (set IMAGE_CHECK_DIR)"
  sfx=$([ "$STORAGE_DRIVER" = vfs ] || echo "-$STORAGE_DRIVER")
  BH=(buildah --root "/var/lib/containers/build-check$sfx" --runroot "/run/build-check$sfx" --storage-driver "$STORAGE_DRIVER")
fi

# --------------------------------------------------------------------------- containers (docker | unshare)
# Like `docker run --read-only --tmpfs /tmp -v VOLUME:/data`: in a private mount namespace the rootfs is a
# read-only bind, the volume and a tmpfs are mounted over it, and the entrypoint is exec'd (PID 1 in its own
# PID namespace) as the image's user, with the image's environment only.
# shellcheck disable=SC2016  # expanded by the inner bash
NS_INIT='
  root=$1 vol=$2 user=$3 workdir=$4; shift 4
  mount --bind "$root" "$root" && mount -o remount,bind,ro "$root"
  mount --bind "$vol" "$root/data"
  mount -t tmpfs -o mode=1777,nosuid,nodev,size=512m tmpfs "$root/tmp"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  exec chroot --userspec="$user" "$root" /bin/sh -c "cd \"\$0\" && exec /usr/bin/env -i \"\$@\"" "$workdir" "$@"
'
ctr_start() {   # starts a fresh container from the image on $VOLUME; sets CTR and CPID (host pid of its PID 1)
  NCTR=$((NCTR + 1))
  local out=$WORK/app-$NCTR.log
  if [ "$ENGINE" = docker ]; then
    CTR=$(docker run -d --read-only --tmpfs /tmp -v "$VOLUME:/data" -p "127.0.0.1:$PORT:8080" \
          -e START_TOKEN="$TOKEN" -e SCRIPTS_DIR=/data/scripts --stop-timeout $GRACE_S "$IMAGE")
    CPID=$(docker inspect -f '{{.State.Pid}}' "$CTR")
    return
  fi
  CTR=$("${BH[@]}" from --pull=never "$IMAGE")
  local mnt cfg user workdir
  mnt=$("${BH[@]}" mount "$CTR")
  cfg=$("${BH[@]}" inspect --type image "$IMAGE" | jq '.Docker.config')
  user=$(jq -r '.User // "0:0"' <<<"$cfg"); workdir=$(jq -r '.WorkingDir // "/"' <<<"$cfg")
  mapfile -t argv < <(jq -r '((.Entrypoint // []) + (.Cmd // []))[]' <<<"$cfg")
  mapfile -t envs < <(jq -r '.Env // [] | .[]' <<<"$cfg")
  envs+=("PORT=$PORT" "START_TOKEN=$TOKEN" "SCRIPTS_DIR=/data/scripts" "HOSTNAME=image-test")
  setsid unshare --mount --pid --fork --kill-child --propagation private /bin/bash -euc "$NS_INIT" \
    image-test "$mnt" "$VOLUME" "$user" "$workdir" "${envs[@]}" "${argv[@]}" </dev/null >"$out" 2>&1 &
  RUNNER_PID=$!
  local i
  for i in $(seq 50); do
    CPID=$(ps -o pid= --ppid "$RUNNER_PID" 2>/dev/null | tr -d ' ' | head -1 || true)
    [ -n "$CPID" ] && [ "$(readlink "/proc/$CPID/root" 2>/dev/null)" = "$mnt" ] && return
    sleep 0.1
  done
  fail "the container did not start: $(tail -5 "$out")"
}

ctr_offline() {  # a one-off container of the image with no network at all (docker run --network none)
  if [ "$ENGINE" = docker ]; then
    docker run --rm --network none --read-only --tmpfs /tmp --entrypoint "$1" "$IMAGE" "${@:2}"
    return
  fi
  local c m cfg envs
  c=$("${BH[@]}" from --pull=never "$IMAGE"); m=$("${BH[@]}" mount "$c")
  cfg=$("${BH[@]}" inspect --type image "$IMAGE" | jq '.Docker.config')
  mapfile -t envs < <(jq -r '.Env // [] | .[]' <<<"$cfg")
  local rc=0
  mkdir -p "$WORK/offline-data"
  unshare --net --mount --pid --fork --kill-child --propagation private /bin/bash -euc "$NS_INIT" image-test \
    "$m" "$WORK/offline-data" "$(jq -r '.User // "0:0"' <<<"$cfg")" "$(jq -r '.WorkingDir // "/"' <<<"$cfg")" "${envs[@]}" "$@" || rc=$?
  "${BH[@]}" umount "$c" >/dev/null 2>&1 || true; "${BH[@]}" rm "$c" >/dev/null 2>&1 || true
  return $rc
}

ctr_exec() {    # runs a command inside the running container, as its user (docker exec)
  if [ "$ENGINE" = docker ]; then docker exec "$CTR" "$@"; return; fi
  local envs
  mapfile -d '' envs <"/proc/$CPID/environ"
  nsenter --target "$CPID" --mount --pid --root --wd -S "$UID_IN_IMAGE" -G "$UID_IN_IMAGE" \
    /usr/bin/env -i "${envs[@]}" "$@"
}

ctr_alive() {
  if [ "$ENGINE" = docker ]; then [ "$(docker inspect -f '{{.State.Running}}' "$CTR" 2>/dev/null)" = true ]; else kill -0 "$CPID" 2>/dev/null; fi
}

proc1() { ctr_exec cat "/proc/1/$1"; }   # the server's /proc entry, read inside the container (PID 1 there)

ctr_logs() { if [ "$ENGINE" = docker ]; then docker logs "$CTR" 2>&1; else cat "$WORK/app-$NCTR.log"; fi; }

ctr_stop() {    # SIGTERM to PID 1 like `docker stop`, SIGKILL after the grace period; sets STOP_RC
  STOP_RC=0
  if [ "$ENGINE" = docker ]; then
    docker stop -t $GRACE_S "$CTR" >/dev/null; STOP_RC=$(docker inspect -f '{{.State.ExitCode}}' "$CTR")
    docker rm "$CTR" >/dev/null
  else
    local waited=0 target=${CPID:-$RUNNER_PID}   # no PID 1 yet: unshare itself (--kill-child takes it along)
    kill -TERM "$target" 2>/dev/null || true
    while kill -0 "$target" 2>/dev/null && [ $waited -lt $((GRACE_S * 10)) ]; do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$target" 2>/dev/null; then kill -KILL "$target" "$RUNNER_PID" 2>/dev/null || true; fi
    wait "$RUNNER_PID" || STOP_RC=$?
    "${BH[@]}" umount "$CTR" >/dev/null 2>&1 || true; "${BH[@]}" rm "$CTR" >/dev/null 2>&1 || true
  fi
  CTR=""; CPID=""; RUNNER_PID=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$CTR" ] || ctr_stop >/dev/null 2>&1 || true
  [ -z "$WHEELS_PID" ] || kill "$WHEELS_PID" 2>/dev/null || true
  if [ "${KEEP_IMAGE:-0}" != 1 ] && [ -n "${BUILT:-}" ]; then
    if [ "$ENGINE" = docker ]; then docker rmi "$IMAGE" >/dev/null 2>&1 || true; else "${BH[@]}" rmi "$IMAGE" >/dev/null 2>&1 || true; fi
  fi
  echo
  echo "=== image-test ($ENGINE) ==="
  local line; for line in "${SUMMARY[@]}"; do echo "  $line"; done
  if [ $rc = 0 ]; then rm -rf "$WORK"; echo "=== PASS ==="; else echo "  work dir and logs: $WORK"; echo "=== FAIL (exit $rc) ==="; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------------------- HTTP helpers
URL=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer $TOKEN")
wait_health() {   # prints seconds from $1 to the first 200
  local t0=$1 deadline=$((SECONDS + 90))
  while [ $SECONDS -lt $deadline ]; do
    if curl -sf -o "$WORK/health.json" --max-time 2 "$URL/health"; then secs "$t0" "$(now)"; return; fi
    ctr_alive || { ctr_logs | tail -20 >&2; fail "the container exited before /health answered"; }
    sleep 0.1
  done
  ctr_logs | tail -20 >&2; fail "/health did not answer 200 within 90 s"
}
script() {        # script NAME JSON: a scripted-model file on the volume; prints the model spec for /start
  printf '%s\n' "$2" >"$VOLUME/scripts/$1.json"; chown -R "$UID_IN_IMAGE:$UID_IN_IMAGE" "$VOLUME/scripts"
  echo "scripted:/data/scripts/$1.json"
}
start_run() {     # start_run BODY: POST /start, prints the runId
  local answer
  answer=$(curl -sS --max-time 10 "${AUTH[@]}" -H 'Content-Type: application/json' -d "$1" "$URL/start")
  jq -e -r '.runId' <<<"$answer" || fail "/start answered: $answer"
}
events() {        # events RUN_ID: the run's SSE stream to its end, one JSON event a line (debug profile)
  curl -sSN --max-time 120 "${AUTH[@]}" "$URL/runs/$1/events?profile=debug" | sed -n 's/^data: //p' | grep '"type"' || true
}
terminal_type() { jq -r 'select(.type | test("^run\\.(completed|failed|canceled)$")) | .type' | tail -1; }
rpc() {           # rpc METHOD PARAMS_JSON
  curl -sS --max-time 10 "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$URL/rpc"
}
rss_mb() { proc1 status | awk -v k="$1:" '$1 == k { printf "%d", $2 / 1024 }'; }
cpu_s() { proc1 stat | awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }'; }

# --------------------------------------------------------------------------- build
build_args=()
if [ -z "${TORCH_INDEX_URL:-}" ] && ! curl -sf -o /dev/null --max-time 10 https://download.pytorch.org/whl/cpu/torch/; then
  [ -x "$IMAGE_CHECK_DIR/serve_wheels.sh" ] || fail "PyTorch's CPU index is unreachable: set TORCH_INDEX_URL"
  # A fixed port: the URL is a build argument, and a new value would invalidate the cached layers after it.
  "$IMAGE_CHECK_DIR/serve_wheels.sh" "" "${WHEELS_PORT:-18099}" >"$WORK/wheels.url" 2>"$WORK/wheels.err" &
  WHEELS_PID=$!
  for _ in $(seq 50); do [ -s "$WORK/wheels.url" ] && break; sleep 0.1; done
  TORCH_INDEX_URL=$(head -1 "$WORK/wheels.url")
  [ -n "$TORCH_INDEX_URL" ] || fail "serve_wheels.sh printed no URL: $(cat "$WORK/wheels.err")"
  log "PyTorch's CPU index is unreachable: torch from pip's find-links wheels at $TORCH_INDEX_URL"
fi
[ -z "${TORCH_INDEX_URL:-}" ] || build_args+=("TORCH_INDEX_URL=$TORCH_INDEX_URL")

log "building $IMAGE with $ENGINE"
t0=$(now)
if [ "$ENGINE" = docker ]; then
  args=(); for kv in "${build_args[@]}"; do args+=(--build-arg "$kv"); done
  docker build --network host "${args[@]}" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "build"; }
  size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
else
  # build_check.sh: base image, the machine's CA and index settings for RUN steps, /health and HEALTHCHECK
  # once under buildah run. Its own forbidden-package scan is off: this script scans below.
  # Its probe goes to the image's own port (8080): the app there reads PORT from the image's Env.
  KEEP_IMAGE=1 IMAGE="$IMAGE" EXTRA_BUILD_ARGS="${build_args[*]}" FORBID_PACKAGES="" MAX_IMAGE_MB="" \
    bash "$IMAGE_CHECK_DIR/build_check.sh" "$ROOT" "${BUILD_CHECK_PORT:-8080}" >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; fail "build_check.sh"; }
  size=$(sed -n 's/^image size: \([0-9]*\) MB.*/\1/p' "$WORK/build.log")000000
fi
BUILT=1
build_s=$(secs "$t0" "$(now)")
[ "$ENGINE" = docker ] || build_s="$(awk '$1 == "build" { sub("s", "", $2); print $2 }' "$WORK/build.log") (build_check total $build_s)"
size_mb=$((size / 1000000))
note "build: ${build_s} s"
note "image size: ${size_mb} MB ($IMAGE; limit $MAX_IMAGE_MB MB)"
[ "$size_mb" -le "$MAX_IMAGE_MB" ] || fail "the image is over $MAX_IMAGE_MB MB"

# --------------------------------------------------------------------------- packages
if [ "$ENGINE" = docker ]; then
  dists=$(docker create "$IMAGE" | { read -r id; docker export "$id" | tar -t; docker rm "$id" >/dev/null; } | grep -o '[^/]*\.dist-info/$' || true)
else
  c=$("${BH[@]}" from --pull=never "$IMAGE"); m=$("${BH[@]}" mount "$c")
  dists=$(find "$m" -xdev -type d -name '*.dist-info' -printf '%f\n'); "${BH[@]}" rm "$c" >/dev/null
fi
names=$(sed 's#/$##; s#-[0-9][^-]*\.dist-info$##; s#\.dist-info$##' <<<"$dists" | sort -u)
forbidden=$(grep -iE "^($FORBID_PACKAGES)" <<<"$names" || true)
[ -z "$forbidden" ] || fail "forbidden distributions in the image: $(tr '\n' ' ' <<<"$forbidden")"
note "packages: $(wc -l <<<"$names") distributions, none matching /$FORBID_PACKAGES/; $(grep -E '^torch-' <<<"$dists" | head -1)"

# --------------------------------------------------------------------------- start
chown "$UID_IN_IMAGE:$UID_IN_IMAGE" "$VOLUME"
t0=$(now); ctr_start
first=$(wait_health "$t0")
note "first /health: $first s after start ($(jq -c '{status, version}' "$WORK/health.json"))"
[ "$(ctr_exec id -u)" = "$UID_IN_IMAGE" ] || fail "the container does not run as uid $UID_IN_IMAGE"
[ "$(proc1 status | awk '$1 == "Uid:" { print $2 }')" = "$UID_IN_IMAGE" ] || fail "PID 1 does not run as uid $UID_IN_IMAGE"
ctr_exec python -c "
import pathlib, sys
for path in ('/data/.image-test', '/tmp/.image-test'):
    pathlib.Path(path).write_text('ok')
for path in ('/opt/venv/.image-test', '/.image-test', '/etc/.image-test'):
    try:
        pathlib.Path(path).write_text('no')
    except OSError:
        continue
    sys.exit(f'{path} is writable: the root filesystem is not read-only')
" || fail "filesystem check"
if [ "$ENGINE" = docker ]; then hc=$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE")
else hc=$("${BH[@]}" inspect --type image "$IMAGE" | jq -c '.Docker.config.Healthcheck.Test'); fi
mapfile -t hc_argv < <(jq -r '.[1:][]' <<<"$hc")
[ "$(jq -r '.[0]' <<<"$hc")" != CMD-SHELL ] || hc_argv=(/bin/sh -c "${hc_argv[0]}")
[ ${#hc_argv[@]} -gt 0 ] || fail "the image has no HEALTHCHECK"
ctr_exec "${hc_argv[@]}" || fail "the image's HEALTHCHECK command failed"
note "container: uid $UID_IN_IMAGE, read-only root, /data and /tmp writable, HEALTHCHECK exit 0"
idle_mb=$(rss_mb VmRSS)

# --------------------------------------------------------------------------- offline
t0=$(now)
ctr_offline python -c "
import asyncio, socket, sys
try:
    socket.create_connection(('pypi.org', 443), timeout=3).close()
    sys.exit('this container has a network: the offline check proves nothing')
except OSError:
    pass
from memory import MiniLMEmbedder
vectors = asyncio.run(MiniLMEmbedder().embed(['zebra herd', 'striped horses', 'tax return']))
similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
assert vectors.shape == (3, 384) and similar > unrelated, (similar, unrelated)
print(f'{similar:.2f} {unrelated:.2f}')
" >"$WORK/offline.out" 2>&1 || fail "MiniLM without a network: $(tail -5 "$WORK/offline.out")"
note "offline: MiniLM loaded and embedded with no network at all in $(secs "$t0" "$(now)") s (cosine zebra/striped horses $(tail -1 "$WORK/offline.out" | cut -d' ' -f1) > zebra/tax return $(tail -1 "$WORK/offline.out" | cut -d' ' -f2))"

# --------------------------------------------------------------------------- runs
model=$(script remember '{"turns": [{"text": "Noted: the herd has 1234 zebras."}]}')
run_a=$(start_run "{\"input\": \"Our zebra herd has 1234 animals.\", \"model\": \"$model\"}")
events "$run_a" >"$WORK/events-a.jsonl"
[ "$(terminal_type <"$WORK/events-a.jsonl")" = run.completed ] || fail "run $run_a did not complete: $(tail -3 "$WORK/events-a.jsonl")"
note "run A $run_a: /start -> SSE, $(wc -l <"$WORK/events-a.jsonl") events, run.completed"
for _ in $(seq 100); do   # memory ingestion runs behind the run; wait for the episode to be searchable
  rpc memory.search '{"spaceId": "default", "query": "zebra herd", "mode": "keyword", "topK": 5}' | grep 1234 >/dev/null && break
  sleep 0.2
done
t0=$(now)
for _ in $(seq 300); do   # the first run warms MiniLM in the background; /health says when dense search is ready
  [ "$(curl -sf --max-time 2 "$URL/health" | jq -r '.memory.denseReady')" = true ] && break
  sleep 0.2
done
[ "$(curl -sf --max-time 2 "$URL/health" | jq -r '.memory.denseReady')" = true ] || fail "MiniLM did not load within 60 s of the first run"
note "MiniLM warm $(secs "$t0" "$(now)") s after run A ended (/health memory.denseReady)"
model=$(script recall '{"turns": [{"tool_calls": [{"name": "semantic_search_memory", "arguments": {"query": "how many striped horses do we keep?", "mode": "dense"}}]}, {"text": "memory: {{last_tool_result}}"}]}')
t0=$(now)
run_b=$(start_run "{\"input\": \"What do you remember about our animals?\", \"model\": \"$model\"}")
events "$run_b" >"$WORK/events-b.jsonl"
[ "$(terminal_type <"$WORK/events-b.jsonl")" = run.completed ] || fail "run $run_b did not complete: $(tail -3 "$WORK/events-b.jsonl")"
jq -e -s 'map(select(.type == "tool.result"))[0].data | .ok and (.output | contains("1234"))' "$WORK/events-b.jsonl" >/dev/null \
  || fail "the dense memory search found nothing: $(grep tool.result "$WORK/events-b.jsonl")"
proc1 maps >"$WORK/maps"; grep -q libtorch_cpu "$WORK/maps" || fail "torch is not loaded: the search did not embed with MiniLM"
note "run B $run_b: dense semantic_search_memory embedded with MiniLM in the container (offline) and found the zebras, $(secs "$t0" "$(now)") s"
loaded_mb=$(rss_mb VmRSS)
cpu0=$(cpu_s); t0=$(now)
ids=()
for i in $(seq "$LOAD_RUNS"); do
  id=$(start_run "{\"input\": \"load $i: what about the zebras?\", \"model\": \"$model\"}"); ids+=("$id")
done
pids=()
for id in "${ids[@]}"; do events "$id" >"$WORK/events-$id.jsonl" & pids+=($!); done
wait "${pids[@]}"
for id in "${ids[@]}"; do [ "$(terminal_type <"$WORK/events-$id.jsonl")" = run.completed ] || fail "load run $id did not complete"; done
wall=$(secs "$t0" "$(now)"); cpu=$(awk -v a="$cpu0" -v b="$(cpu_s)" 'BEGIN { printf "%.1f", b - a }')
note "load: $LOAD_RUNS concurrent runs with a dense memory search each, $wall s wall, $cpu CPU-s ($(awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.2f", c / w }') cores)"
note "RSS: idle ${idle_mb} MiB, MiniLM loaded ${loaded_mb} MiB, after the load $(rss_mb VmRSS) MiB, peak $(rss_mb VmHWM) MiB"

# --------------------------------------------------------------------------- stop during a run
model=$(script slow '{"turns": [{"text": "thinking slowly", "delay_ms": 4000}, {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]}, {"text": "The answer is {{last_tool_result}}"}]}')
run_c=$(start_run "{\"input\": \"What is 6*7, slowly?\", \"model\": \"$model\"}")
sleep 1
t0=$(now); ctr_stop
stop_s=$(secs "$t0" "$(now)")
[ "$STOP_RC" = 0 ] || fail "SIGTERM: the container exited with $STOP_RC"
awk -v s="$stop_s" -v g=$GRACE_S 'BEGIN { exit !(s < g) }' || fail "SIGTERM: stopping took $stop_s s (grace $GRACE_S s)"
note "SIGTERM during run C $run_c: exit 0 after $stop_s s (grace $GRACE_S s)"

# --------------------------------------------------------------------------- restart on the same volume
t0=$(now); ctr_start
first=$(wait_health "$t0")
note "restart on the same volume: first /health $first s after start"
status=$(rpc run.get "{\"runId\": \"$run_a\"}" | jq -r '.result.status')
[ "$status" = completed ] || fail "after the restart run A is '$status'"
[ "$(events "$run_a" | terminal_type)" = run.completed ] || fail "after the restart run A's events are gone"
start_run "{\"runId\": \"$run_c\"}" >/dev/null
events "$run_c" >"$WORK/events-c.jsonl"
[ "$(terminal_type <"$WORK/events-c.jsonl")" = run.completed ] || fail "run C did not complete after the restart: $(tail -3 "$WORK/events-c.jsonl")"
grep -q '"run.resumed"' "$WORK/events-c.jsonl" || fail "run C did not resume from its checkpoint"
note "after the restart: run A still completed with its events; run C resumed from its checkpoint and completed"
ctr_stop; [ "$STOP_RC" = 0 ] || fail "the second container exited with $STOP_RC"
