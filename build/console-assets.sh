#!/usr/bin/env bash
# Fetches uPlot (the fleet console's time-series plots) from the npm package uplot@1.6.32 (MIT) and checks each file
# against its pinned SHA-256, as build/speech-models.sh does for the speech models.
# Run by the build (Directory.Build.targets, projects with UsesConsoleAssets=true, before resources are embedded) and
# idempotent: when DEST already holds the pinned files nothing is fetched. The aggregator embeds them, so the console
# needs no CDN and works offline; nothing is downloaded at run time.
# Why fetched, not committed: a vendored copy of a minified third-party build would be reviewed by nobody; the pinned
# hashes make the fetch exactly as reproducible as a committed copy.
set -euo pipefail
dest=${1:?usage: build/console-assets.sh DEST_DIR}
package=uplot
version=1.6.32
declare -A pinned=(
  [uPlot.esm.js]=5dd9b3281aa64b461b42d9945f6adb2649d346502b12281a9ae0d46599a80eba
  [uPlot.min.css]=df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04
  [LICENSE]=8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd
)
declare -A source=([uPlot.esm.js]=dist/uPlot.esm.js [uPlot.min.css]=dist/uPlot.min.css [LICENSE]=LICENSE)

verified() { # dir: all pinned files present with their hashes
  local f
  for f in "${!pinned[@]}"; do
    [ -f "$1/$f" ] || return 1
    [ "$(sha256sum "$1/$f" | cut -d' ' -f1)" = "${pinned[$f]}" ] || return 1
  done
}

mkdir -p "$dest"
# Parallel builds of several configurations would each run this: one fetch, the others wait and then find the files.
exec 9>"$dest/.lock"
flock 9
verified "$dest" && exit 0

if ! command -v npm >/dev/null 2>&1; then
  echo "error: the fleet console needs npm to fetch $package@$version (install Node.js/npm, e.g. apt-get install npm), or put uPlot.esm.js, uPlot.min.css and LICENSE with the pinned SHA-256 in $dest." >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null 2>"$tmp/npm.log"); then
  echo "error: 'npm pack $package@$version' failed (is the npm registry reachable?):" >&2
  cat "$tmp/npm.log" >&2
  exit 1
fi
tar -xzf "$tmp/$package-$version.tgz" -C "$tmp" package/dist/uPlot.esm.js package/dist/uPlot.min.css package/LICENSE
for f in "${!pinned[@]}"; do
  actual=$(sha256sum "$tmp/package/${source[$f]}" | cut -d' ' -f1)
  if [ "$actual" != "${pinned[$f]}" ]; then
    echo "error: $package@$version ${source[$f]} has SHA-256 $actual, pinned ${pinned[$f]}; refusing an unexpected file." >&2
    exit 1
  fi
  cp "$tmp/package/${source[$f]}" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"
done
echo "console assets: fetched $package@$version into $dest (SHA-256 verified)"
