#!/bin/sh
# Push and pull of a ~300 MB, 5-layer image against a local docker-registry on 127.0.0.1: kiln vs skopeo.
# Cold runs: every push starts from a fresh kiln store (nothing compressed yet, no known blobs) into an
# empty registry; every pull lands in an empty store / OCI directory.
#   KILN=/path/to/release/kiln RUNS=3 crates/kiln-registry/benches/vs-skopeo.sh
# On a shared machine, wall times drift with the other load between hyperfine's blocks of runs; with
# KILN_BASE=/path/to/older/kiln the script then also runs ROUNDS (default 6) rounds of cold pushes
# interleaved (older kiln, KILN, skopeo in each round) and prints each one's median wall time and mean
# CPU (user+sys) time.
# Needs: docker-registry, skopeo, hyperfine, python3.
set -eu
KILN=${KILN:-kiln}
RUNS=${RUNS:-3}
W=$(mktemp -d /var/tmp/kiln-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat > "$W/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/registry}, delete: {enabled: true}}
http: {addr: $REG}
YML
docker-registry serve "$W/config.yml" > "$W/registry.log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null; rm -rf "$W"' EXIT
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" 2>/dev/null; do sleep 0.1; done

# 5 layers of 60 MB: half random bytes, half base64 text (compresses ~4:3), like binaries plus sources.
mkdir -p "$W/ctx"
printf 'FROM scratch\n' > "$W/ctx/Dockerfile"
for i in 1 2 3 4 5; do
  head -c 30000000 /dev/urandom > "$W/ctx/bin$i"
  head -c 22500000 /dev/urandom | base64 > "$W/ctx/text$i"
  printf 'COPY bin%s text%s /layer%s/\n' "$i" "$i" "$i" >> "$W/ctx/Dockerfile"
done
"$KILN" --root "$W/template" build -q -t bench/img:1 "$W/ctx" > /dev/null
"$KILN" --root "$W/template" save --format oci --compression none -o "$W/img.oci.tar" bench/img:1
du -sh "$W/img.oci.tar"
# A store that never pushed (the pull setup below pushes from the template, which then knows the blobs).
cp -a "$W/template" "$W/cold"

SK="skopeo --insecure-policy --registries-conf /dev/null"
hyperfine -r "$RUNS" -N --export-markdown "$W/push.md" \
  --prepare "sh -c 'rm -rf $W/registry/docker $W/a; cp -a $W/template $W/a'" \
  -n "kiln push (gzip)" "$KILN --root $W/a push -q bench/img:1 $REG/bench/kiln:1" \
  -n "skopeo copy oci-archive → docker:// (gzip)" \
  "$SK copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip oci-archive:$W/img.oci.tar docker://$REG/bench/skopeo:1"
# Leave one pushed copy for the pulls.
"$KILN" --root "$W/template" push -q bench/img:1 "$REG/bench/img:1" > /dev/null
hyperfine -r "$RUNS" -N --export-markdown "$W/pull.md" \
  --prepare "rm -rf $W/b $W/oci" \
  -n "kiln pull (into the store, uncompressed)" "$KILN --root $W/b pull -q $REG/bench/img:1" \
  -n "skopeo copy docker:// → oci: (compressed)" "$SK copy -q --src-tls-verify=false docker://$REG/bench/img:1 oci:$W/oci:img"
cat "$W/push.md" "$W/pull.md"

if [ -n "${KILN_BASE:-}" ]; then
  for r in $(seq 1 "${ROUNDS:-6}"); do
    for v in base kiln skopeo; do
      rm -rf "$W/registry/docker" "$W/a"; cp -a "$W/cold" "$W/a"
      case $v in
        base) set -- "$KILN_BASE" --root "$W/a" push -q bench/img:1 "$REG/bench/kiln:1" ;;
        kiln) set -- "$KILN" --root "$W/a" push -q bench/img:1 "$REG/bench/kiln:1" ;;
        skopeo) set -- $SK copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip \
          "oci-archive:$W/img.oci.tar" "docker://$REG/bench/skopeo:1" ;;
      esac
      /usr/bin/time -a -o "$W/times" -f "$v %e %U %S" "$@" > /dev/null
    done
  done
  python3 - "$W/times" <<'PY'
import collections, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, wall, user, system = line.split()
    runs[name].append((float(wall), float(user) + float(system)))
for name, v in runs.items():
    walls = sorted(w for w, _ in v)
    print(f"interleaved push {name}: median wall {walls[len(walls) // 2]:.2f} s, "
          f"mean CPU {sum(c for _, c in v) / len(v):.2f} s, {len(v)} runs")
PY
fi
