#!/usr/bin/env bash
# Emulated linux-arm64 end-to-end check (called from .ci/run; runs alone too).
#
# 1. Publishes `cl-device` for linux-arm64 the way the device package does: native AOT, cross-compiled on this x64
#    host (clang + the aarch64 cross toolchain), managed engine (no libtorch for linux-arm64).
# 2. Builds (once, then cached) an arm64 sysroot from Debian bookworm's arm64 .debs and runs the arm64 binary with
#    qemu-user: `cl-device version`.
# 3. Writes a base bundle 1.0.0 with `cl selfcheck kit --backbone 16` (a frozen ONNX backbone 3→16→16 + a 16→8→2
#    head), seeds an aggregator registry with it and starts an x64 `cl aggregator run` (K=1, no canary) on a
#    Mosquitto on the host's loopback; runs the arm64 `cl-device run` daemon on that bundle — every prediction and
#    training sample goes through ONNX Runtime's arm64 native under emulation — feeds it labelled samples over MQTT
#    until it trains, promotes and sends a delta; then checks from the outside that the aggregator accepted that delta
#    into version 1.1.0 (`cl model show 1.1.0 --json`: released, parent 1.0.0, the daemon's delta and device id), that
#    the retained release topic announces 1.1.0, and that the emulated daemon verified and installed it (`/health`
#    baseVersion 1.1.0).
# 4. Runs one 1 s keyword clip (WAV) through an audio bundle — the speech pipeline's two ONNX models in arm64 ONNX
#    Runtime — on the emulated daemon and on an x64 daemon: the ten class probabilities must agree within 1e-4.
#
# Every MQTT hop runs over mutual TLS with the fleet ACL, as in production: a fleet CA (`cl fleet ca new`), the
# daemon's certificate (`cl device provision`), aggregator and operator certificates (`cl fleet cert`), and Mosquitto
# configured by `cl broker config` (TLS listener, require_certificate, use_identity_as_username, the fleet ACL). The
# arm64 daemon's TLS is .NET's SslStream over the sysroot's OpenSSL under emulation. An anonymous client is refused.
#
# ONNX Runtime's arm64 native crashes under qemu-user unless the guest sees an ARM /proc/cpuinfo (see
# docs/device-images.md, "ONNX Runtime under qemu-user"): qemu-user resolves absolute paths inside the -L prefix
# first, so the sysroot carries a generated proc/cpuinfo.
#
# Environment: CL_ARM64_CACHE (sysroot cache, default ~/.cache/continual-learning).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

cache=${CL_ARM64_CACHE:-$HOME/.cache/continual-learning}
sysroot=$cache/arm64-sysroot-bookworm
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "::: arm64: qemu-user and the native AOT cross toolchain"
# clang links the native AOT binary, llvm gives llvm-objcopy (splits the symbols), and the aarch64 cross toolchain
# gives the linker, crt files and libc to link against.
need=()
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v llvm-objcopy >/dev/null 2>&1 || need+=(llvm)
command -v aarch64-linux-gnu-ld >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu)
[ -f /usr/aarch64-linux-gnu/lib/crt1.o ] || need+=(libc6-dev-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
qemu-aarch64-static --version | head -n1
clang --version | head -n1

echo "::: arm64: sysroot ($sysroot)"
# Only what the self-contained app loads: glibc, libstdc++/libgcc (ONNX Runtime, coreclr), zlib, OpenSSL (TLS to the
# broker). No ICU: the projects set InvariantGlobalization.
packages="libc6 libstdc++6 libgcc-s1 zlib1g libssl3"
if [ ! -f "$sysroot/.complete" ] || [ "$(cat "$sysroot/.complete")" != "$packages" ]; then
  rm -rf "$sysroot" && mkdir -p "$sysroot"
  apt_dir=$work/apt
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs"
  touch "$apt_dir/status"
  # A private apt state with only the arm64 architecture and one source: the host's apt setup is left alone.
  echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" > "$apt_dir/sources.list"
  apt_opts=(-o APT::Architecture=arm64 -o APT::Architectures=arm64
            -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o Dir::State="$apt_dir" -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
            -o Dir::Cache="$apt_dir" -o Dir::Cache::archives="$apt_dir/archives" -o Debug::NoLocking=1
            -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download $packages)
  for deb in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
  echo "$packages" > "$sysroot/.complete"
fi
# ONNX Runtime's cpuinfo reads /proc/cpuinfo at load time; under qemu-user that is the host's (x86) file and the
# parser then writes through a NULL cache table. A Cortex-A72 (Raspberry Pi 4) description, one entry per host CPU
# so it agrees with the host's /sys/devices/system/cpu lists, which qemu-user passes through.
mkdir -p "$sysroot/proc"
: > "$sysroot/proc/cpuinfo"
for ((i = 0; i < $(nproc --all); i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$i" >> "$sysroot/proc/cpuinfo"
done

echo "::: arm64: publish cl-device (linux-arm64, native AOT, cross-compiled)"
publish=$repo/artifacts/publish/cl-device-linux-arm64
start=$(date +%s)
# Warnings are errors: a trimming/AOT warning in our code fails here, before it can fail on a device.
dotnet publish src/ContinualLearning.Device.Daemon -c Release -r linux-arm64 -o "$publish" -v quiet -nologo
echo "published in $(( $(date +%s) - start )) s: $(du -sh "$publish" | cut -f1) ($(du -h "$publish/cl-device" | cut -f1) cl-device)"
# ELF e_machine (bytes 18-19) is 0xb7 for AArch64.
[ "$(od -An -tx1 -j18 -N2 "$publish/cl-device" | tr -d ' ')" = b700 ] || { echo "cl-device is not an arm64 ELF executable" >&2; exit 1; }
if find "$publish" -name 'libtorch*.so*' -o -name 'libLibTorchSharp*' | grep -q .; then
  echo "libtorch natives in the linux-arm64 publish output: they cannot load on arm64" >&2; exit 1
fi
arm64() { qemu-aarch64-static -L "$sysroot" "$publish/cl-device" "$@"; }

echo "::: arm64: cl-device version (emulated)"
arm64 version | tee "$work/version.txt"
grep -q "linux-arm64" "$work/version.txt"
grep -q "native AOT" "$work/version.txt"

echo "::: arm64: x64 cl (kit, aggregator, receiver)"
# The default (Debug) configuration: .ci/run has built it already, so this is a no-op there.
dotnet build src/ContinualLearning.Cli -v quiet -nologo
# The output may sit in a RID folder (the build targets the host runtime by default).
x64_cl=""
for candidate in src/ContinualLearning.Cli/bin/Debug/net10.0/linux-*/cl.dll src/ContinualLearning.Cli/bin/Debug/net10.0/cl.dll; do
  if [ -f "$candidate" ]; then x64_cl=$candidate; break; fi
done
[ -n "$x64_cl" ] || { echo "no x64 cl.dll under src/ContinualLearning.Cli/bin/Debug" >&2; exit 1; }
x64() { dotnet "$x64_cl" "$@"; }

echo "::: arm64: fleet CA and certificates (cl fleet ca new, cl device provision, cl fleet cert)"
pki=$work/pki
x64 fleet ca new --out "$pki/ca" --fleet e2e-daemon > /dev/null
x64 device provision arm64-daemon --ca "$pki/ca" --out "$pki/device" > /dev/null
x64 fleet cert aggregator e2e --ca "$pki/ca" --out "$pki/aggregator" > /dev/null
x64 fleet cert operator e2e --ca "$pki/ca" --out "$pki/operator" > /dev/null
ls "$pki"/*/
# The operator's certificate for the shell's own clients (samples in, retained release out).
op_tls=(--cafile "$pki/ca/ca.crt" --cert "$(ls "$pki"/operator/*.crt | grep -v '/ca.crt$')" --key "$(ls "$pki"/operator/*.key)")
op_cl=(--tls-ca "$pki/ca/ca.crt" --tls-cert "$(ls "$pki"/operator/*.crt | grep -v '/ca.crt$')" --tls-key "$(ls "$pki"/operator/*.key)")

echo "::: arm64: broker on loopback (Mosquitto from cl broker config: mutual TLS, fleet ACL)"
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for attempt in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  x64 broker config --ca "$pki/ca" --out "$pki/broker" --aggregator e2e --operator e2e --port "$port" --bind 127.0.0.1 --host 127.0.0.1 --force > /dev/null
  # Started as root, Mosquitto drops to the mosquitto user before it reads the ACL, which lies in this user's private
  # temp directory: keep the user that owns the files.
  echo "user $(id -un)" >> "$pki/broker/mosquitto.conf"
  "$mosquitto_bin" -c "$pki/broker/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
  pids+=($!)
  sleep 0.5
  if kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
  if [ "$attempt" = 5 ]; then cat "$work/mosquitto.log" >&2; exit 1; fi
done
echo "mosquitto on 127.0.0.1:$port (TLS, client certificates required)"
# The open door is shut: an anonymous client (TLS, trusting the CA, no certificate) gets no session.
if mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$pki/ca/ca.crt" -q 1 -t cl/e2e-daemon/model/sea/release -m junk -r 2> "$work/anonymous.txt"; then
  echo "an anonymous client published on the TLS broker" >&2; exit 1
fi
echo "anonymous client refused: $(head -c 160 "$work/anonymous.txt")"

echo "::: arm64: x64 aggregator (registry seeded with the kit's base bundle 1.0.0, K=1, no canary)"
x64 selfcheck kit --out "$work/kit" --backbone 16 > /dev/null
[ -f "$work/kit/bundle/backbone.onnx" ] || { echo "the kit bundle has no backbone.onnx" >&2; exit 1; }
# The registry must know the device's base version, else the delta is refused as unknown-base-version.
mkdir -p "$work/registry"
x64 model publish "$work/kit/bundle" --registry "$work/registry" > "$work/seed.txt" 2>&1 \
  || { cat "$work/seed.txt" >&2; echo "seeding the registry with the kit bundle failed" >&2; exit 1; }
# K=1 and minDevices 1 (one emulated device): the first accepted delta triggers an aggregation. No canary: the new version is released to all at once, so the
# check does not wait for telemetry. No shared subscription: the x64 receiver below listens on the same delta topic.
cat > "$work/aggregator.json" <<JSON
{
  "fleet": "e2e-daemon", "modelName": "sea",
  "registryPath": "registry", "privateKeyPath": "kit/fleet.key",
  "brokerHost": "127.0.0.1", "brokerPort": $port, "instanceId": "aggregator-e2e-$$",
  "tls": true, "tlsCaFile": "$pki/ca/ca.crt",
  "tlsCertFile": "$(ls "$pki"/aggregator/*.crt | grep -v '/ca.crt$')", "tlsKeyFile": "$(ls "$pki"/aggregator/*.key)",
  "sharedSubscription": false,
  "aggregation": { "bufferSize": 1, "minDeltas": 1, "minDevices": 1, "strategy": "fed-avg" },
  "rollout": { "canary": false }
}
JSON
: > "$work/aggregator.log"
# dotnet itself in the background (not the x64 function): $! must be the process the cleanup kills, not a subshell
# that would leave the aggregator running after the script.
dotnet "$x64_cl" aggregator run --config "$work/aggregator.json" >> "$work/aggregator.log" 2>&1 &
aggregator=$!
pids+=($aggregator)
agg_fail() {
  echo "--- aggregator.log" >&2; cat "$work/aggregator.log" >&2
  echo "--- daemon.log (tail)" >&2; tail -n 40 "$work/daemon.log" >&2 2>/dev/null || true
  echo "FAIL: $*" >&2; exit 1
}
for _ in $(seq 1 150); do
  grep -q 'serving sea (global 1.0.0)' "$work/aggregator.log" && break
  kill -0 "$aggregator" 2>/dev/null || agg_fail "the x64 aggregator exited before serving"
  sleep 0.2
done
grep -q 'serving sea (global 1.0.0)' "$work/aggregator.log" || agg_fail "the x64 aggregator did not report serving sea 1.0.0 within 30 s"
grep 'serving sea' "$work/aggregator.log"

echo "::: arm64: cl-device run (emulated daemon: base bundle with an ONNX backbone, samples over MQTT, volume-triggered training, promotion, delta)"
dotnet "$x64_cl" selfcheck receive --mqtt "127.0.0.1:$port" "${op_cl[@]}" --fleet e2e-daemon --timeout 600 > "$work/receiver2.txt" 2>&1 &
receiver=$!
pids+=($receiver)
for _ in $(seq 1 100); do grep -q '^subscribed=' "$work/receiver2.txt" && break; sleep 0.2; done
http_port=$((port + 1))
start_ns=$(date +%s%N)
# A run after 200 new labels (volume trigger), checked every second; margin −1 promotes any challenger, so the
# check does not depend on how much the head learns from 200 samples. --engine auto must resolve to managed.
CL_DEVICE_TRANSIENTSTORE=/dev/shm/cl-e2e-$$.db CL_DEVICE_DELETESTOREONSTOP=true \
CL_DEVICE_LEARNING__MAXSAMPLES=200 CL_DEVICE_LEARNING__MINSAMPLES=50 CL_DEVICE_LEARNING__ACCURACYMARGIN=-1 \
CL_DEVICE_TRAINCHECKINTERVALSECONDS=1 \
CL_DEVICE_BROKER__TLS=true CL_DEVICE_BROKER__TLSCAFILE="$pki/device/ca.crt" \
CL_DEVICE_BROKER__TLSCERTFILE="$(ls "$pki"/device/*.crt | grep -v '/ca.crt$')" CL_DEVICE_BROKER__TLSKEYFILE="$(ls "$pki"/device/*.key)" \
  qemu-aarch64-static -L "$sysroot" "$publish/cl-device" run --id arm64-daemon --fleet e2e-daemon --model sea \
    --broker "127.0.0.1:$port" --fleet-key "$work/kit/fleet.pub" --data-dir "$work/device-data" --bundle "$work/kit/bundle" \
    --engine auto --http-port "$http_port" > "$work/daemon.log" 2>&1 &
daemon=$!
pids+=($daemon)
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$http_port/health" > "$work/health.json" 2>/dev/null && break
  kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$http_port/health" > /dev/null || { cat "$work/daemon.log" >&2; echo "the emulated daemon never served /health" >&2; exit 1; }
echo "emulated daemon serving after $(( ($(date +%s%N) - start_ns) / 1000000 )) ms (qemu-user: functional check only): $(cat "$work/health.json")"
grep -q '"engine":"managed"' "$work/health.json" || { echo "engine=auto did not pick the managed engine on linux-arm64" >&2; exit 1; }
# A prediction goes through the ONNX backbone (arm64 ONNX Runtime under qemu-user), then the head.
curl -sf -X POST "http://127.0.0.1:$http_port/predict" -H 'Content-Type: application/json' -d '{"features":[1.5,2.5,9.0]}' > "$work/predict.json" \
  || { cat "$work/daemon.log" >&2; echo "POST /predict failed on the emulated daemon" >&2; exit 1; }
echo "prediction through the ONNX backbone: $(cat "$work/predict.json")"
grep -q '"probabilities":\[' "$work/predict.json"
# The samples go out only once the daemon holds its MQTT session (a TLS handshake under qemu-user takes a moment
# longer than /health): QoS 1 messages published before its first subscription would have no session to wait in.
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$http_port/health" 2>/dev/null | grep -q '"mqttConnected":true' && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$http_port/health" | grep -q '"mqttConnected":true' || { cat "$work/daemon.log" "$work/mosquitto.log" >&2; echo "the emulated daemon did not connect to the TLS broker within 60 s" >&2; exit 1; }
# 260 labelled SEA (concept 1) samples: UP when f1 + f2 <= 8.
awk 'BEGIN { srand(7); for (i = 0; i < 260; i++) { a = rand() * 10; b = rand() * 10; c = rand() * 10;
  printf "{\"features\":[%.4f,%.4f,%.4f],\"label\":\"%s\"}\n", a, b, c, (a + b <= 8 ? "UP" : "DOWN") } }' > "$work/samples.jsonl"
mosquitto_pub -h 127.0.0.1 -p "$port" "${op_tls[@]}" -q 1 -t cl/e2e-daemon/device/arm64-daemon/samples -l < "$work/samples.jsonl"
wait "$receiver" || { cat "$work/receiver2.txt" "$work/daemon.log" >&2; exit 1; }
cat "$work/receiver2.txt"
grep -q '^received_device=arm64-daemon$' "$work/receiver2.txt"
grep -q '^result=ok$' "$work/receiver2.txt"
curl -sf "http://127.0.0.1:$http_port/metrics" | grep -E '^cl_(samples_labelled_total|training_runs_total|promotions_total|deltas_sent_total) '
grep -E 'promoted|acknowledged' "$work/daemon.log" | tail -n 3

echo "::: arm64: x64 aggregator accepts and aggregates the arm64 delta"
daemon_delta=$(sed -n 's/^received_delta_id=//p' "$work/receiver2.txt")
for _ in $(seq 1 300); do
  grep -qE 'Released sea 1\.1\.0|Rejected \(' "$work/aggregator.log" && break
  kill -0 "$aggregator" 2>/dev/null || agg_fail "the x64 aggregator exited before aggregating"
  sleep 0.2
done
if grep -q 'Rejected (' "$work/aggregator.log"; then agg_fail "the aggregator rejected the arm64 delta (reason above)"; fi
grep -q 'Released sea 1\.1\.0' "$work/aggregator.log" || agg_fail "no 'Released sea 1.1.0' in the aggregator log within 60 s of the delta"
grep -E 'Aggregated|Released' "$work/aggregator.log"
# From the outside: the registry holds 1.1.0, released, parent 1.0.0, built from exactly the arm64 daemon's delta.
x64 model show 1.1.0 --registry "$work/registry" --json > "$work/model-1.1.0.json" 2>&1 \
  || { cat "$work/model-1.1.0.json" >&2; agg_fail "cl model show 1.1.0 failed"; }
flat=$(tr -d ' \n' < "$work/model-1.1.0.json")
for want in '"version":"1.1.0"' '"status":"released"' '"parent":"1.0.0"' '"deviceIds":["arm64-daemon"]' "\"deltaIds\":[\"$daemon_delta\"]"; do
  grep -qF "$want" <<< "$flat" || { cat "$work/model-1.1.0.json" >&2; agg_fail "cl model show 1.1.0 lacks $want"; }
done
echo "registry: $(grep -oE '"(version|status|parent|deltaIds|deviceIds|sampleCounts)":("[^"]*"|\[[^]]*\])' <<< "${flat%%\"metrics\"*}" | tr '\n' ' ')"
# The retained release on the broker announces 1.1.0 to all devices.
mosquitto_sub -h 127.0.0.1 -p "$port" "${op_tls[@]}" -t cl/e2e-daemon/model/sea/release -C 1 -W 5 > "$work/release.json" 2>&1 \
  || agg_fail "no retained release on cl/e2e-daemon/model/sea/release"
flat=$(tr -d ' \n' < "$work/release.json")
for want in '"version":"1.1.0"' '"parentVersion":"1.0.0"' '"cohort":"all"'; do
  grep -qF "$want" <<< "$flat" || { cat "$work/release.json" >&2; agg_fail "the retained release lacks $want"; }
done
echo "retained release: $(grep -o '"version":"[^"]*","parentVersion":"[^"]*","cohort":"[^"]*"' <<< "$flat" || head -c 200 "$work/release.json")"
# The loop closes on the device: the emulated daemon fetches the signed chunks, verifies them with the kit's public
# key and installs 1.1.0 as its new base.
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$http_port/health" > "$work/health.json" 2>/dev/null && grep -q '"baseVersion":"1.1.0"' "$work/health.json" && break
  kill -0 "$daemon" 2>/dev/null || agg_fail "the emulated daemon exited before installing 1.1.0"
  sleep 0.2
done
grep -q '"baseVersion":"1.1.0"' "$work/health.json" || { cat "$work/health.json" >&2; agg_fail "the emulated daemon did not install release 1.1.0 within 60 s"; }
echo "emulated daemon after the release: $(cat "$work/health.json")"
kill -TERM "$daemon"
wait "$daemon" || true

echo "::: arm64: one clip through an audio bundle (speech pipeline in arm64 ONNX Runtime under emulation) vs x64"
# The kit's audio bundle (melspectrogram.onnx → ×0.1 + 2 → windows → embedding_model.onnx → mean+max pool → a fresh
# 192→64→10 head: probabilities near 0.1 each, so they move with every embedding value) and one 1 s espeak-ng clip from
# the small keyword corpus. The same WAV goes to POST /predict of the emulated arm64 daemon and of an x64 `cl device
# run` on the same bundle; their ten probabilities must agree within 1e-4. Both daemons serve HTTP only: their broker
# port is closed (no MQTT is needed for a prediction).
x64 selfcheck kit --out "$work/audio-kit" --audio > /dev/null
x64 keywords make --small --out "$work/keywords" > /dev/null
clip="$work/keywords/$(awk -F, 'NR == 2 { print $1 }' "$work/keywords/manifest.csv")"
closed_port=$(( http_port + 2 ))
audio_daemon() { # name http-port command...: starts a daemon on the audio bundle, waits for /health, posts the clip
  local name=$1 port=$2; shift 2
  CL_DEVICE_TRANSIENTSTORE=/dev/shm/cl-e2e-audio-$name-$$.db CL_DEVICE_DELETESTOREONSTOP=true \
    "$@" run --id "audio-$name" --fleet e2e-daemon --model keywords --broker "127.0.0.1:$closed_port" \
      --fleet-key "$work/audio-kit/fleet.pub" --data-dir "$work/audio-$name" --bundle "$work/audio-kit/bundle" \
      --engine managed --http-port "$port" > "$work/audio-$name.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/audio-$name.log" >&2; echo "the $name audio daemon exited" >&2; exit 1; }
    sleep 0.1
  done
  curl -sf -X POST "http://127.0.0.1:$port/predict" -H 'Content-Type: audio/wav' --data-binary "@$clip" > "$work/audio-$name.json" \
    || { cat "$work/audio-$name.log" >&2; echo "POST /predict of a WAV failed on the $name daemon" >&2; exit 1; }
  kill -TERM "$pid"
  wait "$pid" || true
}
start_ns=$(date +%s%N)
audio_daemon arm64 "$(( http_port + 3 ))" qemu-aarch64-static -L "$sysroot" "$publish/cl-device"
echo "arm64 (emulated) in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms: $(cat "$work/audio-arm64.json")"
audio_daemon x64 "$(( http_port + 4 ))" dotnet "$x64_cl" device
echo "x64: $(cat "$work/audio-x64.json")"
probabilities() { grep -o '"probabilities":\[[^]]*\]' "$1" | sed 's/.*\[//; s/\]//' | tr ',' '\n'; }
paste -d' ' <(probabilities "$work/audio-arm64.json") <(probabilities "$work/audio-x64.json") | awk '
  NF == 2 { n++; d = $1 - $2; if (d < 0) d = -d; if (d > worst) worst = d }
  END { printf "probabilities compared: %d, largest |arm64 - x64| = %.3g (bound 1e-4)\n", n, worst; exit !(n == 10 && worst <= 1e-4) }' \
  || { echo "the arm64 and x64 probabilities for the same clip differ by more than 1e-4 (or are not 10 each)" >&2; exit 1; }

echo "::: arm64: ok (every MQTT hop over mutual TLS with the fleet ACL; emulated native-AOT arm64 daemon ran its ONNX backbone, trained, promoted and sent a delta; x64 decoded it, the x64 aggregator accepted it into 1.1.0 and released it; the daemon installed 1.1.0; an audio clip through the speech pipeline gave the x64 probabilities within 1e-4)"
