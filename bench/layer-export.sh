#!/usr/bin/env bash
# Layer export throughput, side by side on the same ~300 MB tree (half random, half text, 3,000 files):
#   kiln      — criterion bench `layer_write` (write_tree + sha256, plain / gzip all cores / zstd)
#   docker    — `docker save` of a one-layer image imported from the tree (uncompressed docker-archive)
#   buildah   — `buildah push ... oci-archive:` of a one-layer image committed from the tree (gzip layers)
# Tools that are missing are skipped with a message. Run from the repository root:
#   bench/layer-export.sh            (needs root for dockerd and buildah's storage)
# Absolute times drift with machine load: compare the numbers of one run only.
set -euo pipefail

TREE=/tmp/kiln-layer-bench/tree-300000000
OUT=$(mktemp -d /tmp/kiln-layer-export.XXXXXX)
RUNS=${RUNS:-5}
trap 'rm -rf "$OUT"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }
timeit() { # name, command...
    local name=$1; shift
    if have hyperfine; then
        hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$OUT/$name.md" "$*" >/dev/null
        sed -n '3p' "$OUT/$name.md" | awk -F'|' -v n="$name" '{print n ": " $3 " s (mean ± σ)"}'
    else
        local start end; start=$(date +%s.%N); eval "$*"; end=$(date +%s.%N)
        echo "$name: $(echo "$end - $start" | bc) s (one run)"
    fi
}

if [ -z "${SKIP_KILN:-}" ] || [ ! -d "$TREE" ]; then
    echo "== kiln (criterion; also generates $TREE on first use; SKIP_KILN=1 skips it)"
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} cargo bench -p kiln-layer --bench layer_write 2>/dev/null \
        | grep -E '^layer_write/|thrpt:|time:' || true
fi
[ -d "$TREE" ] || { echo "tree $TREE missing"; exit 1; }
du -sb "$TREE" | awk '{print "tree bytes: " $1}'

echo "== buildah push oci-archive"
if have buildah; then
    ctr=$(buildah from scratch)
    buildah copy "$ctr" "$TREE" / >/dev/null
    buildah commit -q "$ctr" kiln-bench-layer >/dev/null
    buildah rm "$ctr" >/dev/null
    timeit "buildah push (gzip)" "rm -f $OUT/b.tar; buildah push -q kiln-bench-layer oci-archive:$OUT/b.tar"
    timeit "buildah push (uncompressed)" \
        "rm -f $OUT/b.tar; buildah push -q --disable-compression kiln-bench-layer oci-archive:$OUT/b.tar"
    buildah rmi kiln-bench-layer >/dev/null
else
    echo "buildah not installed: skipped"
fi

echo "== docker save"
if have dockerd && have docker; then
    sock=$OUT/docker.sock
    dockerd --bridge=none --iptables=false --ip6tables=false --host "unix://$sock" \
        --data-root "$OUT/docker" --exec-root "$OUT/docker-exec" --pidfile "$OUT/docker.pid" \
        >"$OUT/dockerd.log" 2>&1 &
    dpid=$!
    export DOCKER_HOST="unix://$sock"
    for _ in $(seq 50); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    tar -C "$TREE" -c . | docker import - kiln-bench-layer >/dev/null
    timeit "docker save" "docker save kiln-bench-layer -o $OUT/d.tar"
    docker rmi kiln-bench-layer >/dev/null
    kill "$dpid"; wait "$dpid" || true
else
    echo "docker not installed: skipped"
fi
