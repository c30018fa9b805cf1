#!/usr/bin/env bash
# Device footprint measurement (docs/benchmarks.md, "Device footprint"). Runs the published `cl selfcheck` workload —
# a 128→256→10 head, 10,000-sample replay buffer, 20,000-sample drifting stream, SQLite store on /dev/shm — a few
# times per engine and prints start-to-serving time and RSS (from /proc/self/status, as systemd/ps count it).
# Usage: device-images/footprint.sh artifacts/device/linux-x64 [managed torch] [runs=5]
set -euo pipefail
publish=${1:?usage: $0 PUBLISH_DIR [engines...]}
shift
engines=("${@:-managed}")
runs=${RUNS:-5}
[ -x "$publish/cl" ] || { echo "no cl in $publish; run: dotnet cake --target=PublishDevice" >&2; exit 1; }
echo "publish dir: $(du -sh "$publish" | cut -f1)"
for engine in "${engines[@]}"; do
  for ((r = 1; r <= runs; r++)); do
    out=$("$publish/cl" selfcheck --engine "$engine" --samples 20000 --round 1000 --replay 10000)
    get() { sed -n "s/^$1=//p" <<<"$out"; }
    echo "engine=$engine run=$r ready_ms=$(get ready_ms) rss_ready_mb=$(get rss_ready_mb) rss_after_training_mb=$(get rss_after_training_mb) rss_peak_mb=$(get rss_peak_mb) replay_held=$(get replay_held) train_seconds=$(get train_seconds) accuracy_end=$(get accuracy_end) result=$(get result)"
  done
done
