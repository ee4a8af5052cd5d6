#!/usr/bin/env bash
# kiln analyze vs dive on the same docker-archives: the numbers must agree (efficiency to 4 decimals, wasted
# bytes exactly), then wall time (hyperfine median), CPU time (user + system, hyperfine mean, ms) and peak
# memory (/usr/bin/time -v) of `kiln analyze --ci` and `dive --ci`.
#
# Images: the kiln-golden/* images bench/record-dive-goldens.sh builds and imports (run it first), plus
# local/debian-build:bookworm when present. Needs: dockerd, dive, hyperfine, python3, GNU time, and a
# release kiln (KILN, default target/release/kiln). Usage: bench/analyze-vs-dive.sh [IMAGE...]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kiln=${KILN:-$here/../target/release/kiln}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
images=("$@")
if [ ${#images[@]} -eq 0 ]; then
  images=(kiln-golden/busybox kiln-golden/debian kiln-golden/builder kiln-golden/final kiln-golden/churn)
  docker image inspect local/debian-build:bookworm >/dev/null 2>&1 && images+=(local/debian-build:bookworm)
fi
for tool in docker dive hyperfine python3 /usr/bin/time "$kiln"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); kiln $("$kiln" version), $(dive --version)"
printf '%-28s %9s %11s %13s %9s %9s %8s %9s %9s %9s %9s\n' image size efficiency wasted kiln_ms dive_ms speedup \
  kiln_cpu dive_cpu kiln_MiB dive_MiB
for image in "${images[@]}"; do
  name=$(echo "$image" | tr '/:' '__')
  tar=$work/$name.tar
  docker save "$image" -o "$tar"
  # Agreement first: a fast wrong answer is worth nothing.
  (cd "$work" && dive --source docker-archive "$tar" --json "$work/$name.dive.json" >/dev/null)
  "$kiln" analyze "docker-archive:$tar" --format json --no-ci >"$work/$name.kiln.json"
  python3 - "$work/$name.dive.json" "$work/$name.kiln.json" "$image" <<'PY'
import json, sys
d, k, image = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
checks = {
    "efficiency (4 decimals)": ("%.4f" % (d["image"]["efficiencyScore"] * 100), "%.4f" % (k["efficiency"] * 100)),
    "wasted bytes": (d["image"]["inefficientBytes"], k["wasted_bytes"]),
    "size bytes": (d["image"]["sizeBytes"], k["size_bytes"]),
    "layer sizes": ([l["sizeBytes"] for l in d["layer"]], [l["size_bytes"] for l in k["layers"]]),
}
bad = {n: v for n, v in checks.items() if v[0] != v[1]}
if bad:
    sys.exit("%s: kiln and dive disagree: %s" % (image, bad))
PY
  (cd "$work" && hyperfine -N -w 2 -r 10 --export-json "$work/$name.hf.json" \
    -n kiln "$kiln analyze docker-archive:$tar --ci --lowest-efficiency 0 --highest-user-wasted-percent 1" \
    -n dive "dive --ci --source docker-archive $tar --lowestEfficiency 0 --highestUserWastedPercent 1" >/dev/null)
  rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}'; }
  kiln_kb=$(cd "$work" && rss "$kiln" analyze "docker-archive:$tar" --ci --lowest-efficiency 0 --highest-user-wasted-percent 1)
  dive_kb=$(cd "$work" && rss dive --ci --source docker-archive "$tar" --lowestEfficiency 0 --highestUserWastedPercent 1)
  python3 - "$work/$name.hf.json" "$work/$name.kiln.json" "$image" "$kiln_kb" "$dive_kb" <<'PY'
import json, sys
hf, k = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
t = {r["command"]: r["median"] * 1000 for r in hf["results"]}
cpu = {r["command"]: (r["user"] + r["system"]) * 1000 for r in hf["results"]}
print("%-28s %8.1fM %10.4f%% %13d %9.1f %9.1f %7.1fx %9.1f %9.1f %9.1f %9.1f" % (
    sys.argv[3], k["size_bytes"] / 1e6, k["efficiency"] * 100, k["wasted_bytes"], t["kiln"], t["dive"],
    t["dive"] / t["kiln"], cpu["kiln"], cpu["dive"], int(sys.argv[4]) / 1024, int(sys.argv[5]) / 1024))
PY
done
