#!/usr/bin/env bash
# Layer export, side by side on the same trees: time and output size of
#   kiln     `kiln save --format oci` of a one-layer image imported from the tree: gzip at the default level
#            (and at each level in LEVELS="3 5 ..."), zstd, uncompressed. Each timed run starts from a fresh
#            copy of a store that holds the imported layer (hyperfine --prepare), so the layer is compressed
#            every time, as buildah does.
#   buildah  `buildah push ... oci-archive:` of a one-layer image committed from the tree (gzip, uncompressed)
#   docker   `docker save` of a one-layer image imported from the tree (uncompressed docker-archive)
# Trees: the generated ~300 MB bench tree (half random, half text, 3,000 files; `cargo bench -p kiln-layer
# --bench layer_write` makes it on first use and reports kiln's in-process throughput), and ROOTFS=DIR if
# given, a real root filesystem (e.g. a debootstrap of Debian). Tools that are missing are skipped.
# Run from the repository root as root:   KILN=target/release/kiln [ROOTFS=DIR] bench/layer-export.sh
# Absolute times drift with machine load: compare the numbers of one run only.
set -euo pipefail

KILN=${KILN:-target/release/kiln}
RUNS=${RUNS:-5}
BENCH_TREE=/tmp/kiln-layer-bench/tree-300000000
OUT=$(mktemp -d /tmp/kiln-layer-export.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }
have hyperfine || { echo "hyperfine is needed"; exit 1; }
[ -x "$KILN" ] || { echo "no kiln at $KILN (cargo build --release -p kiln-cli, or set KILN)"; exit 1; }

# timeit NAME OUTPUT PREPARE COMMAND: prints NAME, the median and mean ± σ seconds, and the size of OUTPUT.
timeit() {
    local name=$1 output=$2 prepare=$3 command=$4
    hyperfine --runs "$RUNS" --warmup 1 --prepare "$prepare" --export-json "$OUT/t.json" "$command" \
        >/dev/null
    python3 - "$OUT/t.json" "$name" "$output" <<'EOF'
import json, os, sys
r = json.load(open(sys.argv[1]))["results"][0]
size = os.path.getsize(sys.argv[3]) if os.path.exists(sys.argv[3]) else 0
print(f"{sys.argv[2]:<34} median {r['median']:6.3f} s (mean {r['mean']:.3f} ± {r['stddev']:.3f})  {size:>11,} bytes")
EOF
}

if [ ! -d "$BENCH_TREE" ]; then
    echo "== generating $BENCH_TREE (criterion bench layer_write)"
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} cargo bench -p kiln-layer --bench layer_write 2>/dev/null \
        | grep -E '^layer_write/|thrpt:|time:' || true
fi
TREES=("$BENCH_TREE")
[ -n "${ROOTFS:-}" ] && TREES+=("$ROOTFS")

if have dockerd && have docker; then
    sock=$OUT/docker.sock
    dockerd --bridge=none --iptables=false --ip6tables=false --host "unix://$sock" \
        --data-root "$OUT/docker" --exec-root "$OUT/docker-exec" --pidfile "$OUT/docker.pid" \
        >"$OUT/dockerd.log" 2>&1 &
    dpid=$!
    trap 'kill $dpid 2>/dev/null; wait $dpid 2>/dev/null; rm -rf "$OUT"' EXIT
    export DOCKER_HOST="unix://$sock"
    for _ in $(seq 50); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
fi

for tree in "${TREES[@]}"; do
    echo "== $tree: $(du -sb "$tree" | cut -f1) bytes"
    "$KILN" --root "$OUT/template" import "$tree" bench/tree:1 >/dev/null
    fresh="rm -rf $OUT/store $OUT/k.tar; cp -a $OUT/template $OUT/store; sync"
    save="$KILN --root $OUT/store save bench/tree:1 --format oci -o $OUT/k.tar"
    timeit "kiln save gzip (default level)" "$OUT/k.tar" "$fresh" "$save --compression gzip"
    for level in ${LEVELS:-}; do
        timeit "kiln save gzip level $level" "$OUT/k.tar" "$fresh" \
            "$save --compression gzip --compression-level $level"
    done
    timeit "kiln save zstd (default level)" "$OUT/k.tar" "$fresh" "$save --compression zstd"
    timeit "kiln save uncompressed" "$OUT/k.tar" "$fresh" "$save --compression none"
    rm -rf "$OUT/template" "$OUT/store" "$OUT/k.tar"

    if have buildah; then
        ctr=$(buildah from scratch)
        buildah copy "$ctr" "$tree" / >/dev/null
        buildah commit -q "$ctr" kiln-bench-layer >/dev/null
        buildah rm "$ctr" >/dev/null
        timeit "buildah push gzip" "$OUT/b.tar" "rm -f $OUT/b.tar; sync" \
            "buildah push -q kiln-bench-layer oci-archive:$OUT/b.tar"
        timeit "buildah push uncompressed" "$OUT/b.tar" "rm -f $OUT/b.tar; sync" \
            "buildah push -q --disable-compression kiln-bench-layer oci-archive:$OUT/b.tar"
        buildah rmi kiln-bench-layer >/dev/null
        rm -f "$OUT/b.tar"
    else
        echo "buildah not installed: skipped"
    fi

    if [ -n "${dpid:-}" ]; then
        tar -C "$tree" -c . | docker import - kiln-bench-layer >/dev/null
        timeit "docker save" "$OUT/d.tar" "rm -f $OUT/d.tar; sync" "docker save kiln-bench-layer -o $OUT/d.tar"
        docker rmi kiln-bench-layer >/dev/null
        rm -f "$OUT/d.tar"
    else
        echo "docker not installed: skipped"
    fi
done
