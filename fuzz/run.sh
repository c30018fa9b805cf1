#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers (docs/fuzzing.md): builds fuzz/ContinualLearning.Fuzz into its own folder,
# instruments that copy of the product assemblies with sharpfuzz, runs afl-fuzz on each target for a bounded time,
# and prints executions, speed, corpus, edges, crashes and hangs from afl's fuzzer_stats.
#
#   fuzz/run.sh <target|all> <seconds per target>
#   targets: delta manifest safetensors bundle chunk fleetjson sample wav
#
# Exit status: 0 when no target crashed or hung, 1 when one did (the inputs are under fuzz/out/findings/<target>/
# default/{crashes,hangs}/ and are replayed once with their stack trace), 2 on a usage or setup error.
# On this shared two-core machine run it under the build lock: `clbuild fuzz/run.sh delta 180` (it calls dotnet
# itself, not clbuild, so it must not be started from inside another clbuild).
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(delta manifest safetensors bundle chunk fleetjson sample wav)
if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh <all|${all_targets[*]// /|}> <seconds per target>" >&2
  exit 2
fi
if [ "$1" = all ]; then targets=("${all_targets[@]}"); else targets=("$1"); fi
for t in "${targets[@]}"; do
  if [ ! -d "fuzz/corpus/$t" ]; then echo "unknown target '$t' (no fuzz/corpus/$t); targets: ${all_targets[*]}" >&2; exit 2; fi
done
seconds=$2
if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "afl-fuzz not found: install Debian's afl++ (apt-get install -y afl++)" >&2
  exit 2
fi

out=fuzz/out
bin=$out/bin
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "::: building the fuzz harness into $bin"
# A fresh folder every run: sharpfuzz instruments in place and refuses an assembly it already instrumented.
rm -rf "$bin"
# Release by default (faster executions); CI passes CL_FUZZ_CONFIGURATION=Debug to reuse the solution build it just did.
dotnet publish fuzz/ContinualLearning.Fuzz/ContinualLearning.Fuzz.csproj -c "${CL_FUZZ_CONFIGURATION:-Release}" -o "$bin" -v quiet -nologo >/dev/null
dotnet tool restore >/dev/null

echo "::: instrumenting the parsers with sharpfuzz"
# Only the namespaces that hold the parsers and what they call, so the coverage map measures parsing.
dotnet sharpfuzz "$bin/ContinualLearning.Core.dll" ContinualLearning.Deltas ContinualLearning.Bundle ContinualLearning.Features ContinualLearning.Training ContinualLearning.Tensors ContinualLearning.Audio
dotnet sharpfuzz "$bin/ContinualLearning.Fleet.dll" ContinualLearning.Fleet.Messages ContinualLearning.Fleet.Signing
dotnet sharpfuzz "$bin/ContinualLearning.Device.dll" ContinualLearning.Device.Serving.SampleRequest

# Scratch files of the bundle and chunk targets live on tmpfs when there is one.
scratch_root=/dev/shm
[ -d "$scratch_root" ] && [ -w "$scratch_root" ] || scratch_root=${TMPDIR:-/tmp}
scratch=$(mktemp -d "$scratch_root/cl-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

export AFL_SKIP_BIN_CHECK=1            # the target is `dotnet`, instrumented by sharpfuzz, not by afl's compiler
export AFL_NO_UI=1 AFL_QUIET=1
export AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_FORKSRV_INIT_TMOUT=60000    # the .NET runtime starts and JITs the fork server before the first input
export AFL_MAP_SIZE=65536              # sharpfuzz's coverage map
export CL_FUZZ_SCRATCH=$scratch
# A lying length field that makes a ≤ 1 MB input allocate hundreds of MB is a finding: under this heap limit the
# allocation throws OutOfMemoryException, which no target catches.
export DOTNET_GCHeapHardLimit=0x20000000

stat() { sed -n "s/^$1 *: *//p" "$2" | head -1; }
failed=0
summary=()
for t in "${targets[@]}"; do
  findings=$out/findings/$t
  rm -rf "$findings"
  mkdir -p "$findings"
  dict=fuzz/dict/json.dict
  case $t in delta|chunk|bundle) dict=fuzz/dict/binary.dict ;; wav) dict=fuzz/dict/wav.dict ;; esac
  echo "::: fuzzing $t for ${seconds}s"
  # -t: per-input timeout in ms (a hang is a finding); -m none: the heap limit above bounds memory instead.
  if ! afl-fuzz -i "fuzz/corpus/$t" -o "$findings" -x "$dict" -t 5000 -m none -V "$seconds" \
      -- dotnet "$bin/ContinualLearning.Fuzz.dll" "$t" >"$findings/afl.log" 2>&1; then
    echo "afl-fuzz failed for $t; its log:" >&2
    tail -30 "$findings/afl.log" >&2
    exit 2
  fi
  stats=$findings/default/fuzzer_stats
  execs=$(stat execs_done "$stats"); speed=$(stat execs_per_sec "$stats"); paths=$(stat corpus_count "$stats")
  edges=$(stat edges_found "$stats"); crashes=$(stat saved_crashes "$stats"); hangs=$(stat saved_hangs "$stats")
  summary+=("$(printf '%-12s %10s %9s %7s %7s %8s %6s' "$t" "$execs" "$speed" "$paths" "$edges" "$crashes" "$hangs")")
  if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
    failed=1
    echo "!!! $t: $crashes crash(es), $hangs hang(s); replaying them:"
    find "$findings/default/crashes" "$findings/default/hangs" -type f -name 'id:*' -print0 |
      xargs -0 -r timeout 120 dotnet "$bin/ContinualLearning.Fuzz.dll" "$t" 2>&1 | head -60 || true
  fi
done

echo
printf '%-12s %10s %9s %7s %7s %8s %6s\n' target execs exec/s paths edges crashes hangs
printf '%s\n' "${summary[@]}"
exit $failed
