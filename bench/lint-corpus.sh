#!/bin/sh
# Builds a corpus of real-world Dockerfiles for bench/lint-compare.sh and bench/lint-speed.sh, outside the
# repository (other projects' files are never committed here).
#
# Usage: bench/lint-corpus.sh MIRRORS OUT
#   MIRRORS  a directory of git clones (bare or not), one per public repository, e.g. clones of
#            vimagick/dockerfiles, containers/buildah, jessfraz/dockerfiles, dotnet/dotnet-docker,
#            microsoft/vscode-dev-containers, Azure/azure-functions-docker, docker-library/*, moby/buildkit…
#   OUT      the corpus directory: OUT/<repo>__<path with / as __>, one file per distinct Dockerfile
#
# Every file named Dockerfile, Dockerfile.*, *.Dockerfile or *.dockerfile at HEAD is taken (templates and
# docs excluded), empty stubs dropped, identical files kept once.
set -eu
mirrors=${1:?usage: lint-corpus.sh MIRRORS OUT}
out=${2:?usage: lint-corpus.sh MIRRORS OUT}
rm -rf "$out"; mkdir -p "$out"
for d in "$mirrors"/*; do
  [ -d "$d" ] || continue
  git -C "$d" rev-parse HEAD >/dev/null 2>&1 || { [ -d "$d/repo" ] && d="$d/repo"; } || continue
  r=$(basename "$d"); [ "$r" = repo ] && r=$(basename "$(dirname "$d")")
  git -C "$d" ls-tree -r HEAD --name-only \
    | grep -E '(^|/)(Dockerfile([.-][^/]*)?|[^/]*\.Dockerfile|[^/]*\.dockerfile)$' \
    | grep -v -i -E '\.(md|txt|sh|yml|yaml|json|template|tmpl|j2|erb|in)$' \
    | while read -r p; do
      name="${r}__$(echo "$p" | sed 's#/#__#g')"
      git -C "$d" show "HEAD:$p" > "$out/$name" 2>/dev/null || rm -f "$out/$name"
    done
done
find "$out" -size -20c -delete
(cd "$out" && md5sum -- * | sort | awk 'seen[$1]++ {print $2}' | xargs -r rm -f)
ls "$out" | wc -l
