#!/usr/bin/env bash
# Records BuildKit's output for kiln-build's differential suite
# (crates/kiln-build/tests/fixtures/differential/<name>/{Dockerfile,context/}) as golden files
# (<name>/buildkit.json) that `cargo test -p kiln-build --test it differential` compares with kiln's output,
# with no daemon.
#
# For each fixture: builds it with `DOCKER_BUILDKIT=1 /usr/bin/docker build --network host` on a private
# dockerd (--bridge=none --iptables=false, data root in a temp dir), exports the image with `docker save`,
# applies its layers in order (whiteouts and opaque dirs honored) and writes:
#   base   the merged tree of the base image (path -> type, mode, uid, gid, size, sha256, link target,
#          hardlink group)
#   image  the merged tree of the built image, same fields
#   config User, Env, Entrypoint, Cmd, WorkingDir, ExposedPorts, Labels, Healthcheck, StopSignal, Volumes
#
# The base image (kiln-diff/busybox) is made here exactly as kiln_test::busybox_rootfs makes it for the
# tests (busybox-static + the applet symlinks listed in crates/kiln-test/src/lib.rs + the same /etc/passwd
# and /etc/group) and `docker import`ed. The test compares what each Dockerfile changed over its base
# (added, changed and removed paths), so a different busybox-static version on the test machine is
# reported but does not fail the comparison.
#
# Context files are copied with normalized modes (dirs 0755, files 0644 or 0755 when executable), as the
# test does, so the checkout's umask does not matter.
#
# Needs root, dockerd/docker (docker.io), busybox-static, python3. Usage: bench/record-buildkit-goldens.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
fixtures=$repo/crates/kiln-build/tests/fixtures/differential
docker_cli=${DOCKER:-/usr/bin/docker}

work=$(mktemp -d /tmp/kiln-goldens.XXXXXX)
export DOCKER_HOST=unix://$work/docker.sock
cleanup() {
  if [ -f "$work/docker.pid" ]; then
    kill "$(cat "$work/docker.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$work/docker.pid" ] || break; sleep 0.2; done
  fi
  umount -R "$work/data" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

dockerd --bridge=none --iptables=false --ip6tables=false --host "$DOCKER_HOST" \
  --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/docker.pid" >"$work/dockerd.log" 2>&1 &
for _ in $(seq 150); do "$docker_cli" version >/dev/null 2>&1 && break; sleep 0.2; done
"$docker_cli" version --format 'recording with dockerd {{.Server.Version}}' >&2

# --- the base image, as kiln_test::busybox_rootfs makes it ----------------------------------------------
base=$work/base-rootfs
umask 022
mkdir -p "$base"/{bin,etc,tmp,root,home/app,usr/bin,var}
cp /bin/busybox "$base/bin/busybox"
applets=$(sed -n '/^pub const BUSYBOX_APPLETS/,/^];/p' crates/kiln-test/src/lib.rs | grep -o '"[^"]*"' | tr -d '"')
for a in $applets; do ln -s busybox "$base/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$base/etc/passwd"
printf 'root:x:0:\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n' >"$base/etc/group"
chmod 1777 "$base/tmp"
tar --numeric-owner -C "$base" -c . | "$docker_cli" import - kiln-diff/busybox:latest >/dev/null
"$docker_cli" save kiln-diff/busybox:latest -o "$work/base.tar"

# --- the tree/config extractor ---------------------------------------------------------------------------
cat >"$work/golden.py" <<'PY'
"""Merged rootfs tree and config of `docker save` archives, as kiln-build's differential test reads them."""
import hashlib, json, sys, tarfile

def norm(name):
    name = name[2:] if name.startswith("./") else name
    name = name.strip("/")
    return "" if name == "." else name

def load(archive):
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        config = json.load(outer.extractfile(manifest["Config"]))
        tree, ino = {}, {}
        next_ino = [0]
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer)) as t:
                members = t.getmembers()
                # opaque dirs and whiteouts hide what lower layers had
                for m in members:
                    name = norm(m.name)
                    d, _, base = name.rpartition("/")
                    if base == ".wh..wh..opq":
                        for p in [p for p in tree if p.startswith(d + "/")]:
                            del tree[p]
                    elif base.startswith(".wh."):
                        gone = (d + "/" if d else "") + base[4:]
                        for p in [p for p in tree if p == gone or p.startswith(gone + "/")]:
                            del tree[p]
                for m in members:
                    name = norm(m.name)
                    if name == "" or name.rpartition("/")[2].startswith(".wh."):
                        continue
                    if name in tree and tree[name]["type"] == "dir" and not m.isdir():
                        for p in [p for p in tree if p.startswith(name + "/")]:
                            del tree[p]
                    e = {"mode": m.mode & 0o7777, "uid": m.uid, "gid": m.gid}
                    if m.isdir():
                        e["type"] = "dir"
                    elif m.issym():
                        e["type"] = "symlink"; e["target"] = m.linkname
                    elif m.islnk():
                        target = norm(m.linkname)
                        e = dict(tree[target])
                        ino[name] = ino[target]
                        tree[name] = e
                        continue
                    elif m.isreg():
                        data = t.extractfile(m).read()
                        e["type"] = "file"; e["size"] = len(data)
                        e["sha256"] = hashlib.sha256(data).hexdigest()
                    elif m.isfifo():
                        e["type"] = "fifo"
                    elif m.ischr():
                        e["type"] = "char"
                    elif m.isblk():
                        e["type"] = "block"
                    next_ino[0] += 1
                    ino[name] = next_ino[0]
                    tree[name] = e
        groups = {}
        for p in tree:
            if tree[p]["type"] == "file":
                groups.setdefault(ino[p], []).append(p)
        for members in groups.values():
            members.sort()
            for p in members[1:]:
                tree[p]["hardlink"] = members[0]
    c = config.get("config") or {}
    fields = ["User", "Env", "Entrypoint", "Cmd", "WorkingDir", "ExposedPorts", "Labels", "Healthcheck",
              "StopSignal", "Volumes"]
    return tree, {f: c.get(f) for f in fields}

base_tree, _ = load(sys.argv[1])
tree, config = load(sys.argv[2])
json.dump({"recorded_with": sys.argv[3], "base": base_tree, "image": tree, "config": config},
          open(sys.argv[4], "w"), indent=1, sort_keys=True)
open(sys.argv[4], "a").write("\n")
PY

version=$("$docker_cli" version --format 'dockerd {{.Server.Version}} (DOCKER_BUILDKIT=1 docker build --network host)')
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for d in "$fixtures"/*/; do names+=("$(basename "$d")"); done
fi
for name in "${names[@]}"; do
  dir=$fixtures/$name
  ctx=$work/ctx-$name
  mkdir -p "$ctx"
  if [ -d "$dir/context" ]; then cp -a "$dir/context/." "$ctx/"; fi
  find "$ctx" -type d -exec chmod 0755 {} +
  find "$ctx" -type f -perm -u+x -exec chmod 0755 {} +
  find "$ctx" -type f ! -perm -u+x -exec chmod 0644 {} +
  echo "== $name" >&2
  DOCKER_BUILDKIT=1 "$docker_cli" build --network host --progress plain -q -f "$dir/Dockerfile" \
    -t "kiln-diff/$name" "$ctx" >/dev/null
  "$docker_cli" save "kiln-diff/$name" -o "$work/$name.tar"
  python3 "$work/golden.py" "$work/base.tar" "$work/$name.tar" "$version" "$dir/buildkit.json"
done
echo "goldens written under $fixtures" >&2
