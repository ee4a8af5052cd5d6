#!/usr/bin/env bash
# kiln's main job on a fresh machine, with nothing but local inputs (no registry, no daemon):
# build kiln, make a base image from busybox-static, lint examples/hello (a multi-stage Dockerfile), build it
# into a small image that runs as a non-root user, prove it (where its bytes go; no secrets, audit checks),
# and save it as a tarball that `docker load` accepts.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v busybox >/dev/null 2>&1 || ! file -L "$(command -v busybox)" 2>/dev/null | grep -q static; then
  echo "installing busybox-static (the base image's only binary)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static file >/dev/null
fi

cargo build --release -q -p kiln-cli
kiln=${CARGO_TARGET_DIR:-target}/release/kiln
export KILN_ROOT=${KILN_ROOT:-$PWD/target/quickstart/store}
out=target/quickstart
mkdir -p "$out"

# A base image: a root filesystem with busybox and its applets, imported as local/busybox.
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,etc,tmp,root}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
"$kiln" import "dir:$rootfs" local/busybox:1

"$kiln" lint --no-fail examples/hello/Dockerfile
"$kiln" build --progress plain -t hello:latest examples/hello
"$kiln" images
"$kiln" history hello
"$kiln" analyze hello --no-ci
"$kiln" scan hello --only secrets,audit --fail-on high
"$kiln" save hello -o "$out/hello.tar"
echo "wrote $out/hello.tar (docker load -i $out/hello.tar && docker run --rm hello)" >&2
