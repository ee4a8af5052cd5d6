#!/usr/bin/env bash
# `kiln build` side by side with BuildKit (dockerd 20.10's, `DOCKER_BUILDKIT=1 /usr/bin/docker build
# --network host`, the same network mode as kiln's default) and buildah (`buildah build --layers
# --network host`), with hyperfine, on the fixtures in ../shared/bench/fixtures (see its README).
#
# Prints a table of medians and kiln/BuildKit ratios for the six targets of kiln's build issue (and kiln's
# mean user+sys CPU per build, which a loaded machine inflates less than wall time):
#   many-steps cold (20 RUN)          <= 0.25x     big-context unchanged rebuild  <= 0.3x
#   big-context one file changed      <= 0.5x      large-layer cold (300 MB RUN)  <= 0.7x
#   parallel-stages cold (3 x 2 s)    <= 1.0x      c-multistage cold              <= 1.0x
# "cold" = `--no-cache` with the base images present and unpacked (one warmup run each; large-layer also
# removes the previous run's image in a --prepare so 300 MB layers do not fill the disk).
#
# Needs root, docker.io (dockerd), buildah, hyperfine, python3, and the base root filesystems that
# ../shared/bench/make-bases.sh makes (/tmp/rootfs-busybox, /tmp/rootfs-bookworm-build; run it first). The
# bases are imported into a private dockerd (data root in $WORK), into kiln's store ($WORK/kiln) and, when
# missing, into buildah's storage, from the same directories.
#
# Usage: bench/build-vs-buildkit.sh   (env: KILN=path/to/kiln, RUNS=3 cold runs, WARM=5 warm runs,
#        WORK=/tmp/kiln-build-bench, ONLY="many-steps ..." to run some measurements, NO_BUILDAH=1)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
shared=$(cd "$repo/../shared/bench" && pwd)
KILN=${KILN:-${CARGO_TARGET_DIR:-$repo/target}/release/kiln}
RUNS=${RUNS:-3}
WARM=${WARM:-5}
WORK=${WORK:-/tmp/kiln-build-bench}
ONLY=${ONLY:-many-steps big-unchanged big-one-file large-layer parallel-stages c-multistage}
docker_cli=/usr/bin/docker
[ -x "$KILN" ] || { echo "no kiln binary at $KILN (cargo build --release -p kiln-cli)" >&2; exit 1; }
for d in /tmp/rootfs-busybox /tmp/rootfs-bookworm-build; do
  [ -d "$d" ] || { echo "$d is missing: run ../shared/bench/make-bases.sh first" >&2; exit 1; }
done

mkdir -p "$WORK"
rm -rf "$WORK/kiln" # a fresh kiln store each time (cold runs leave 300 MB layers behind)
export DOCKER_HOST=unix://$WORK/docker.sock
export KILN_ROOT=$WORK/kiln
cleanup() {
  if [ -f "$WORK/docker.pid" ]; then kill "$(cat "$WORK/docker.pid")" 2>/dev/null || true; fi
  for _ in $(seq 100); do [ -f "$WORK/docker.pid" ] || break; sleep 0.2; done
}
trap cleanup EXIT
dockerd --bridge=none --iptables=false --ip6tables=false --host "$DOCKER_HOST" --data-root "$WORK/docker" \
  --exec-root "$WORK/docker-exec" --pidfile "$WORK/docker.pid" >"$WORK/dockerd.log" 2>&1 &
for _ in $(seq 150); do "$docker_cli" version >/dev/null 2>&1 && break; sleep 0.2; done

# --- bases: the same root filesystems in all three builders ----------------------------------------------
import_base() { # dir name
  "$docker_cli" image inspect "$2" >/dev/null 2>&1 ||
    tar --numeric-owner -C "$1" -c . | "$docker_cli" import - "$2" >/dev/null
  "$KILN" images 2>/dev/null | grep -q "^${2%:*} *${2#*:}\b" || "$KILN" import "dir:$1" "$2" >/dev/null
  buildah inspect -t image "docker.io/$2" >/dev/null 2>&1 ||
    skopeo copy -q "docker-daemon:$2" "containers-storage:docker.io/$2"
}
import_base /tmp/rootfs-busybox local/busybox:latest
import_base /tmp/rootfs-bookworm-build local/debian-build:bookworm

# --- fixtures, copied (big-context's files generated in the copy) ----------------------------------------
fx=$WORK/fixtures
rm -rf "$fx"
cp -a "$shared/fixtures" "$fx"
sh "$fx/gen-big-context.sh" "$fx/big-context"

kiln_build() { echo "$KILN build -q --progress plain $* >/dev/null"; }
bk_build() { echo "DOCKER_BUILDKIT=1 $docker_cli build -q --network host $* >/dev/null"; }
bah_build() { echo "buildah build -q --layers --network host $* >/dev/null 2>&1"; }

results=$WORK/results
rm -rf "$results"
mkdir -p "$results"
# bench NAME RUNS PREPARE ARGS...: hyperfine over the three builders with the same build arguments.
bench() {
  local name=$1 runs=$2 prepare=$3 extra_bah=$4
  shift 4
  local cmds=(-n kiln "$(kiln_build "$@")" -n buildkit "$(bk_build "$@")")
  [ "${NO_BUILDAH:-0}" = 1 ] || cmds+=(-n buildah "$(bah_build $extra_bah "$@")")
  echo "== $name" >&2
  hyperfine --style basic --warmup 1 --runs "$runs" ${prepare:+--prepare "$prepare"} \
    --export-json "$results/$name.json" "${cmds[@]}" >&2 || echo "$name: a builder failed (see above)" >&2
}
# A --prepare for cold runs: drop the previous run's image and what only it used, in all three builders, so
# repeated 300 MB builds do not fill the disk (not timed).
prune() { # image
  echo "$KILN rmi $1 >/dev/null 2>&1; $KILN images | awk '\$1 == \"<none>\" {print \$3}' | xargs -r $KILN rmi >/dev/null 2>&1;" \
    "$KILN prune --cache >/dev/null 2>&1; $docker_cli rmi -f $1 >/dev/null 2>&1;" \
    "$docker_cli builder prune -af >/dev/null 2>&1; buildah rmi -f $1 >/dev/null 2>&1;" \
    "buildah rmi --prune >/dev/null 2>&1; true"
}
wants() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

uptime | sed 's/^/load before: /' >&2
if wants many-steps; then
  bench many-steps "$RUNS" "" "" --no-cache -t bench/many "$fx/many-steps"
fi
if wants big-unchanged || wants big-one-file; then
  for b in kiln bk bah; do eval "$(${b}_build -t bench/big "$fx/big-context")"; done
fi
if wants big-unchanged; then
  bench big-unchanged "$WARM" "" "" -t bench/big "$fx/big-context"
fi
if wants big-one-file; then
  bench big-one-file "$WARM" "date +%s%N > $fx/big-context/src/d00/f0000.txt" "" -t bench/big "$fx/big-context"
fi
if wants large-layer; then
  bench large-layer "$RUNS" "$(prune bench/large)" "" --no-cache -t bench/large "$fx/large-layer"
fi
if wants parallel-stages; then
  bench parallel-stages "$RUNS" "" "--jobs 3" --no-cache -t bench/par "$fx/parallel-stages"
fi
if wants c-multistage; then
  bench c-multistage "$RUNS" "" "" --no-cache -t bench/c "$fx/c-multistage"
fi
uptime | sed 's/^/load after: /' >&2

python3 - "$results" <<'PY'
import json, os, sys, statistics
targets = {"many-steps": ("20 trivial RUN steps, cold", 0.25),
           "big-unchanged": ("unchanged rebuild, 5,000-file context", 0.3),
           "big-one-file": ("rebuild after one file change", 0.5),
           "large-layer": ("RUN writing 300 MB, cold", 0.7),
           "parallel-stages": ("three parallel 2 s stages, cold", 1.0),
           "c-multistage": ("C multi-stage, cold", 1.0)}
print("| measurement | kiln s | BuildKit s | buildah s | kiln/BuildKit | target | met | kiln CPU s (user+sys) |")
print("|---|---|---|---|---|---|---|---|")
for name, (label, target) in targets.items():
    path = os.path.join(sys.argv[1], name + ".json")
    if not os.path.exists(path):
        continue
    runs = json.load(open(path))["results"]
    med = {r["command"]: statistics.median(r["times"]) for r in runs}
    # CPU of the measured process tree: kiln does all its work itself; `docker build` is only a client
    # (BuildKit's CPU is spent in dockerd), so only kiln's is shown.
    cpu = {r["command"]: r["user"] + r["system"] for r in runs}
    k, b, h = med.get("kiln"), med.get("buildkit"), med.get("buildah")
    ratio = k / b
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    print(f"| {label} | {fmt(k)} | {fmt(b)} | {fmt(h)} | {ratio:.2f}x | <= {target}x | {'yes' if ratio <= target else 'no'} | {fmt(cpu.get('kiln'))} |")
PY
