#!/usr/bin/env bash
# Generates the espeak-ng keyword corpus (clips/, manifest.csv, corpus.json) into OUT_DIR with a fixed seed.
# A folder that already holds the same corpus is left as it is, so this is cheap to call before every experiment.
# Usage: scripts/keywords.sh OUT_DIR [SEED] [--small]
# Needs espeak-ng (Debian/Ubuntu: sudo apt-get install espeak-ng) and the .NET SDK.
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $0 OUT_DIR [SEED] [--small]" >&2
  exit 2
fi
out="$1"
seed="${2:-1}"
extra=()
if [[ "${3:-}" == "--small" ]]; then extra+=(--small); fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec dotnet run --project "$root/src/ContinualLearning.Cli/ContinualLearning.Cli.csproj" -c Release -- \
  keywords make --out "$out" --seed "$seed" "${extra[@]}"
