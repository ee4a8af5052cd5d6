#!/bin/sh
# Push and pull of a ~300 MB, 5-layer image against a local docker-registry on 127.0.0.1: kiln vs skopeo.
# Cold runs: every push starts from a fresh kiln store (nothing compressed yet, no known blobs) into an
# empty registry; every pull lands in an empty store / OCI directory.
#   KILN=/path/to/release/kiln ROUNDS=8 crates/kiln-registry/benches/vs-skopeo.sh
# LAYERS=1 puts the same 300 MB in one layer (a pull that cannot spread layers over cores). ROOTFS=DIR
# uses a root filesystem instead (one layer, e.g. a debootstrap tree from ../shared/bench/make-bases.sh).
# The contenders run interleaved, round after round (pushes, then pulls; who goes first alternates), so
# that the load of a shared machine weighs on both alike. Printed per operation: each tool's median wall
# and CPU (user+sys) time, and the median of the per-round ratios kiln/skopeo. Pulls are timed twice for
# skopeo: into an OCI layout (it keeps the compressed blobs and checks one digest) and into a
# docker-archive (it decompresses and checks the DiffIDs too, the work kiln does to fill its store).
# With KILN_BASE=<another kiln> that build joins every round too (to compare two kiln builds).
# Needs: docker-registry, skopeo, python3, /usr/bin/time.
set -eu
KILN=${KILN:-kiln}
ROUNDS=${ROUNDS:-8}
LAYERS=${LAYERS:-5}
W=$(mktemp -d /var/tmp/kiln-bench-XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Two registries: pushes go to one emptied before every push, pulls read the image from the other.
registry() { # NAME: starts a registry storing in $W/NAME, prints its address
  p=$(port)
  cat > "$W/$1.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/$1}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$p}
YML
  docker-registry serve "$W/$1.yml" > "$W/$1.log" 2>&1 &
  echo "$! 127.0.0.1:$p"
}
set -- $(registry pushes); PUSH_PID=$1; PUSH_REG=$2
set -- $(registry pulls); PULL_PID=$1; PULL_REG=$2
trap 'kill $PUSH_PID $PULL_PID 2>/dev/null; rm -rf "$W"' EXIT
for reg in $PUSH_REG $PULL_REG; do
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', ${reg#*:}))" 2>/dev/null; do
    sleep 0.1
  done
done

if [ -n "${ROOTFS:-}" ]; then
  "$KILN" --root "$W/cold" import "$ROOTFS" bench/img:1 > /dev/null
else
  # 5 layers of 60 MB (or one of 300 MB): half random bytes, half base64 text (compresses ~4:3), like
  # binaries plus sources.
  mkdir -p "$W/ctx"
  printf 'FROM scratch\n' > "$W/ctx/Dockerfile"
  for i in 1 2 3 4 5; do
    head -c 30000000 /dev/urandom > "$W/ctx/bin$i"
    head -c 22500000 /dev/urandom | base64 > "$W/ctx/text$i"
    [ "$LAYERS" = 1 ] || printf 'COPY bin%s text%s /layer%s/\n' "$i" "$i" "$i" >> "$W/ctx/Dockerfile"
  done
  [ "$LAYERS" != 1 ] || printf 'COPY bin* text* /layer/\n' >> "$W/ctx/Dockerfile"
  "$KILN" --root "$W/cold" build -q -t bench/img:1 "$W/ctx" > /dev/null
fi
"$KILN" --root "$W/cold" save --format oci --compression none -o "$W/img.oci.tar" bench/img:1
du -sh "$W/img.oci.tar"
# The image the pulls fetch, pushed by kiln.
cp -a "$W/cold" "$W/pusher"
"$KILN" --root "$W/pusher" push -q bench/img:1 "$PULL_REG/bench/img:1" > /dev/null

SK="skopeo --insecure-policy --registries-conf /dev/null"
timed() { # NAME COMMAND...: appends "NAME wall user sys" to $W/times
  name=$1; shift
  sync
  /usr/bin/time -a -o "$W/times" -f "$name %e %U %S" "$@" > /dev/null
}
push_kiln() {
  for kiln in kiln ${KILN_BASE:+base}; do
    bin=$KILN; [ "$kiln" = base ] && bin=$KILN_BASE
    rm -rf "$W/pushes/docker" "$W/a"; cp -a "$W/cold" "$W/a"
    timed "push-$kiln" "$bin" --root "$W/a" push -q bench/img:1 "$PUSH_REG/bench/kiln:1"
  done
}
push_skopeo() {
  rm -rf "$W/pushes/docker"
  timed push-skopeo $SK copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip \
    "oci-archive:$W/img.oci.tar" "docker://$PUSH_REG/bench/skopeo:1"
}
pull_kiln() {
  for kiln in kiln ${KILN_BASE:+base}; do
    bin=$KILN; [ "$kiln" = base ] && bin=$KILN_BASE
    rm -rf "$W/b"
    timed "pull-$kiln" "$bin" --root "$W/b" pull -q "$PULL_REG/bench/img:1"
  done
}
pull_skopeo() {
  rm -rf "$W/oci"
  timed pull-skopeo $SK copy -q --src-tls-verify=false "docker://$PULL_REG/bench/img:1" "oci:$W/oci:img"
  # Into a docker-archive skopeo decompresses and checks each DiffID too, as kiln's store does.
  rm -f "$W/docker.tar"
  timed pull-skopeo-decompressing $SK copy -q --src-tls-verify=false "docker://$PULL_REG/bench/img:1" \
    "docker-archive:$W/docker.tar:bench/img:1"
}
# The first run after a large delete is slower on some VMs (freed memory comes back to the guest slowly):
# the order alternates from round to round so that neither tool always goes first.
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    push_kiln; push_skopeo; pull_kiln; pull_skopeo
  else
    push_skopeo; push_kiln; pull_skopeo; pull_kiln
  fi
done
python3 - "$W/times" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, wall, user, system = line.split()
    runs[name].append((float(wall), float(user) + float(system)))
for op in ("push", "pull"):
    for tool in ("kiln", "base", "skopeo", "skopeo-decompressing"):
        v = runs.get(f"{op}-{tool}")
        if not v:
            continue
        line = (f"{op} {tool}: median wall {statistics.median(w for w, _ in v):.3f} s, "
                f"median CPU {statistics.median(c for _, c in v):.3f} s, {len(v)} runs")
        for other in ("skopeo", "skopeo-decompressing"):
            if tool.startswith("skopeo") or f"{op}-{other}" not in runs:
                continue
            ratios = [a[0] / b[0] for a, b in zip(v, runs[f"{op}-{other}"])]
            line += f"; /{other} (median of per-round ratios) {statistics.median(ratios):.3f}x"
        print(line)
PY
