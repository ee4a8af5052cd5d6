#!/usr/bin/env bash
# kiln analyze vs dive: the numbers must agree (efficiency to 4 decimals, wasted bytes exactly), then wall
# time (hyperfine median), CPU time (user + system, hyperfine mean, ms) and peak memory (/usr/bin/time -v) of
# `kiln analyze --ci` and `dive --ci`, on three pairings per image (one row each):
#   archive  both read the same `docker save` archive (kiln checks every layer against its DiffID; dive
#            does not check anything);
#   store    kiln reads its store (`kiln load` of that archive; layers were verified when stored and are not
#            hashed again) vs dive on the archive (dive's fastest input);
#   daemon   kiln reads its store vs dive's default source, the image in dockerd (`dive --source docker`:
#            dockerd exports the image to dive on every run; dive's RSS only, not dockerd's).
#
# Images: the kiln-golden/* images bench/record-dive-goldens.sh builds and imports (run it first), plus
# local/debian-build:bookworm when present. Needs: dockerd, dive, hyperfine, python3, GNU time, and a
# release kiln (KILN, default target/release/kiln). Usage: bench/analyze-vs-dive.sh [IMAGE...]
# RUNS (default 10) sets hyperfine's runs per command.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kiln=${KILN:-$here/../target/release/kiln}
runs=${RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
store=$work/store
images=("$@")
if [ ${#images[@]} -eq 0 ]; then
  images=(kiln-golden/busybox kiln-golden/debian kiln-golden/builder kiln-golden/final kiln-golden/churn)
  docker image inspect local/debian-build:bookworm >/dev/null 2>&1 && images+=(local/debian-build:bookworm)
fi
for tool in docker dive hyperfine python3 /usr/bin/time "$kiln"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

gates_kiln="--ci --lowest-efficiency 0 --highest-user-wasted-percent 1"
gates_dive="--ci --lowestEfficiency 0 --highestUserWastedPercent 1"
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); kiln $("$kiln" version), $(dive --version)"
printf '%-28s %-8s %9s %11s %13s %9s %9s %8s %9s %9s %9s %9s\n' image pairing size efficiency wasted kiln_ms \
  dive_ms speedup kiln_cpu dive_cpu kiln_MiB dive_MiB
for image in "${images[@]}"; do
  name=$(echo "$image" | tr '/:' '__')
  tar=$work/$name.tar
  docker save "$image" -o "$tar"
  # Agreement first: a fast wrong answer is worth nothing.
  (cd "$work" && dive --source docker-archive "$tar" --json "$work/$name.dive.json" >/dev/null)
  "$kiln" analyze "docker-archive:$tar" --format json --no-ci >"$work/$name.kiln.json"
  "$kiln" --root "$store" load -i "$tar" >/dev/null
  local_ref=$image
  [[ $local_ref == *:* ]] || local_ref=$image:latest
  "$kiln" --root "$store" analyze "$local_ref" --format json --no-ci >"$work/$name.store.json"
  python3 - "$work/$name.dive.json" "$work/$name.kiln.json" "$work/$name.store.json" "$image" <<'PY'
import json, sys
d, k, s, image = [json.load(open(f)) for f in sys.argv[1:4]] + [sys.argv[4]]
checks = {
    "efficiency (4 decimals)": ("%.4f" % (d["image"]["efficiencyScore"] * 100), "%.4f" % (k["efficiency"] * 100)),
    "wasted bytes": (d["image"]["inefficientBytes"], k["wasted_bytes"]),
    "size bytes": (d["image"]["sizeBytes"], k["size_bytes"]),
    "layer sizes": ([l["sizeBytes"] for l in d["layer"]], [l["size_bytes"] for l in k["layers"]]),
}
# kiln on its store (layers not hashed again) must say exactly what kiln on the archive says.
for key in ("efficiency", "wasted_bytes", "size_bytes", "inefficiencies", "layers"):
    checks["store " + key] = (k[key], s[key])
bad = {n: v for n, v in checks.items() if v[0] != v[1]}
if bad:
    sys.exit("%s: disagreement: %s" % (image, bad))
PY
  (cd "$work" && hyperfine -N -w 2 -r "$runs" --export-json "$work/$name.hf.json" \
    -n kiln-archive "$kiln analyze docker-archive:$tar $gates_kiln" \
    -n dive-archive "dive $gates_dive --source docker-archive $tar" \
    -n kiln-store "$kiln --root $store analyze $local_ref $gates_kiln" \
    -n dive-docker "dive $gates_dive --source docker $local_ref" >/dev/null 2>"$work/$name.hf.err") ||
    { cat "$work/$name.hf.err" >&2; exit 1; }
  rss() { (cd "$work" && /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}'); }
  # shellcheck disable=SC2086 # the gate flags are words
  kb="$(rss "$kiln" analyze "docker-archive:$tar" $gates_kiln) $(rss dive $gates_dive --source docker-archive "$tar")"
  # shellcheck disable=SC2086
  kb="$kb $(rss "$kiln" --root "$store" analyze "$local_ref" $gates_kiln) $(rss dive $gates_dive --source docker "$local_ref")"
  python3 - "$work/$name.hf.json" "$work/$name.kiln.json" "$image" $kb <<'PY'
import json, sys
hf, k, image = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
kb = dict(zip(["kiln-archive", "dive-archive", "kiln-store", "dive-docker"], map(int, sys.argv[4:8])))
t = {r["command"]: r["median"] * 1000 for r in hf["results"]}
cpu = {r["command"]: (r["user"] + r["system"]) * 1000 for r in hf["results"]}
for pairing, kiln, dive in [("archive", "kiln-archive", "dive-archive"), ("store", "kiln-store", "dive-archive"),
                            ("daemon", "kiln-store", "dive-docker")]:
    print("%-28s %-8s %8.1fM %10.4f%% %13d %9.1f %9.1f %7.1fx %9.1f %9.1f %9.1f %9.1f" % (
        image, pairing, k["size_bytes"] / 1e6, k["efficiency"] * 100, k["wasted_bytes"], t[kiln], t[dive],
        t[dive] / t[kiln], cpu[kiln], cpu[dive], kb[kiln] / 1024, kb[dive] / 1024))
PY
done
