#!/usr/bin/env bash
# Footprint of the real daemon (docs/benchmarks.md, "Device footprint"): start-to-serving (process start → /health 200),
# RSS idle, and RSS while it ingests a stream over MQTT and trains a 128→256→10 head with a 10,000-sample replay buffer:
# a 12,000-sample burst triggers run 1 (12,000 fresh samples; the replay buffer fills to 10,000), then 2,048 more
# samples and a `train-now` command give run 2, which trains with the full buffer. The peak covers both.
# Usage: device-images/footprint-daemon.sh "DAEMON COMMAND" ENGINE, where DAEMON COMMAND runs the daemon when followed
# by `run`: e.g. artifacts/device/linux-x64/cl-device managed (native AOT, what the packages ship), or
# "src/ContinualLearning.Cli/bin/Release/net10.0/linux-x64/cl device" torch (the JIT `cl`, for the torch engine).
# The base bundle comes from `cl selfcheck kit` ($CL, default: the Debug build of src/ContinualLearning.Cli).
# The GC settings default to the systemd unit's (device-images/deb/cl-device.service). Needs mosquitto + mosquitto_pub.
#
# WORKLOAD=audio measures the same daemon on raw audio instead: the base bundle is `cl selfcheck kit --audio` (the speech
# pipeline — melspectrogram.onnx and embedding_model.onnx in ONNX Runtime — and a 192→64→10 head over ten keywords), the
# samples are labelled 1 s WAV clips of those keywords from `cl keywords make` (espeak-ng; $CL_KEYWORDS_DIR, default a
# fresh folder) published on the samples topic as MQTT 5 messages (content type audio/wav, user property label), each
# embedded on arrival (only the embedding is stored); SAMPLES (default 3000) triggers run 1, MORE (default 512) plus
# train-now give run 2 with the replay buffer full of embeddings. AHEAD=N publishes the clips at most N ahead of the
# device (as a broker that honours the device's Receive Maximum would deliver them), for comparison.
# Besides VmRSS/VmHWM it prints, at the sampled maximum, the anonymous and file-backed RSS and the GC's committed memory.
set -euo pipefail
daemon=${1:?usage: $0 "daemon command" engine}
cl=${CL:-$(dirname "$0")/../src/ContinualLearning.Cli/bin/Debug/net10.0/linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')/cl}
engine=${2:-managed}
workload=${WORKLOAD:-features}
case $workload in
  features) samples=${SAMPLES:-12000}; more=${MORE:-2048}; model=sea; kit_args=(--inputs 128 --hidden 256 --classes 10) ;;
  # Two publishers outrun the samples topic's default 100/s limit (a refused clip would stall the count).
  audio) samples=${SAMPLES:-3000}; more=${MORE:-512}; model=keywords; kit_args=(--audio); export CL_DEVICE_LIMITS__SAMPLESPERSECOND=1000 ;;
  *) echo "WORKLOAD=$workload is not one of features, audio" >&2; exit 2 ;;
esac
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 40000)); http=$((port + 1))
printf 'listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n' "$port" > "$work/m.conf"
"$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$work/m.conf" > /dev/null 2>&1 & pids+=($!)
sleep 0.5
$cl selfcheck kit --out "$work/kit" "${kit_args[@]}" > /dev/null
$cl keys new --out "$work/operator" > /dev/null # the operator key pair that signs the train-now command
start=$(date +%s%N)
CL_DEVICE_TRANSIENTSTORE=/dev/shm/cl-footprint-$$.db CL_DEVICE_DELETESTOREONSTOP=true CL_DEVICE_LEARNING__REPLAYCAPACITY=10000 \
CL_DEVICE_LEARNING__MAXSAMPLES=$samples CL_DEVICE_TRAINCHECKINTERVALSECONDS=1 CL_DEVICE_TELEMETRYINTERVALSECONDS=3600 \
DOTNET_GCgen0size=${DOTNET_GCgen0size:-400000} DOTNET_GCgen0MaxBudget=${DOTNET_GCgen0MaxBudget:-400000} DOTNET_TieredPGO=${DOTNET_TieredPGO:-0} \
  $daemon run --id fp --fleet fp --model "$model" --broker "127.0.0.1:$port" --fleet-key "$work/kit/fleet.pub" \
    --data-dir "$work/data" --bundle "$work/kit/bundle" --engine "$engine" --http-port "$http" \
    --operator-key "$work/operator/release.pub" > "$work/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$http/health" > /dev/null 2>&1 && break; sleep 0.02; done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
pid=$(pgrep -f -- "--fleet-key $work/kit/fleet.pub" | head -n1)
rss() { awk -v f="$1:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
sleep 2
idle=$(rss VmRSS)
# Where the RSS is: anonymous (GC heap, native heaps, JIT code) vs file-backed (mapped .so/.dll images) vs shmem.
split() { echo "anon=$(rss RssAnon) file=$(rss RssFile) shmem=$(rss RssShmem) threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")"; }
idle_split=$(split)
if [ "$workload" = audio ]; then
  corpus=${CL_KEYWORDS_DIR:-$work/corpus}
  $cl keywords make --out "$corpus" > "$work/corpus.txt"
  cat "$work/corpus.txt"
  # "word path" lines for the kit's ten keywords, in a seeded shuffle (accents and words mixed as in real use).
  words="yes no up down left right on off stop go" # the kit bundle's labels
  awk -F, -v words="$words" -v dir="$corpus" 'BEGIN { n = split(words, w, " "); for (i = 1; i <= n; i++) ok[w[i]] = 1; srand(3) }
    NR > 1 && ($2 in ok) { printf "%.8f %s %s/%s\n", rand(), $2, dir, $1 }' "$corpus/manifest.csv" | sort | cut -d' ' -f2- > "$work/all.txt"
  [ "$(wc -l < "$work/all.txt")" -ge "$((samples + more))" ] || { echo "the corpus has $(wc -l < "$work/all.txt") clips of the ten keywords; SAMPLES + MORE = $((samples + more))" >&2; exit 1; }
  head -n "$samples" "$work/all.txt" > "$work/burst.txt"
  sed -n "$((samples + 1)),$((samples + more))p" "$work/all.txt" > "$work/more.txt"
else
# Ten Gaussian class prototypes in 128 dimensions, noise 0.8 (as `cl selfcheck`); the last 2,048 lines are phase 2.
awk -v n="$((samples + more))" 'BEGIN { srand(3); for (c = 0; c < 10; c++) for (d = 0; d < 128; d++) p[c, d] = (rand() - 0.5) * 1.2;
  for (i = 0; i < n; i++) { c = int(rand() * 10); s = "{\"features\":[";
    for (d = 0; d < 128; d++) { u = rand(); v = rand(); g = sqrt(-2 * log(u + 1e-12)) * cos(6.2831853 * v);
      s = s sprintf("%s%.3f", (d ? "," : ""), p[c, d] + 0.8 * g) }
    printf "%s],\"label\":\"c%d\"}\n", s, c } }' > "$work/all.jsonl"
head -n "$samples" "$work/all.jsonl" > "$work/burst.jsonl"
tail -n "$more" "$work/all.jsonl" > "$work/more.jsonl"
fi
# One MQTT message per sample on the device's samples topic (QoS 1): JSON lines, or one WAV per message (MQTT 5 content
# type audio/wav with the label as a user property), two publishers at a time.
metric() { curl -sf "http://127.0.0.1:$http/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
publish_wavs() { xargs -P 2 -L 1 sh -c 'mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$0" -q 1 -t cl/fp/device/fp/samples -D publish content-type audio/wav -D publish user-property label "$1" -f "$2"' "$port"; }
publish() { # phase: burst | more
  if [ "$workload" = audio ] && [ -n "${AHEAD:-}" ]; then
    # AHEAD=N: at most N clips published and not yet handled by the device, as a broker that honours the device's
    # MQTT 5 Receive Maximum (32) would deliver them. Mosquitto before 2.0.13 (Debian 12 ships 2.0.11) does not: each
    # in-order PUBACK releases up to Receive Maximum more queued messages, so a burst lands in the client's receive queue.
    local base sent=0 chunk=$(( (AHEAD + 1) / 2 ))
    base=$(metric cl_samples_labelled_total | cut -d. -f1)
    command split -l "$chunk" "$work/$1.txt" "$work/$1.part." # not the split() above
    for part in "$work/$1.part."*; do
      while [ "$(metric cl_samples_labelled_total | cut -d. -f1)" -lt $((base + sent - chunk)) ]; do sleep 0.02; done
      publish_wavs < "$part"; sent=$((sent + $(wc -l < "$part")))
    done
  elif [ "$workload" = audio ]; then
    publish_wavs < "$work/$1.txt"
  else
    mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t cl/fp/device/fp/samples -l < "$work/$1.jsonl"
  fi
}
# Every 0.2 s: VmRSS, its anonymous and file-backed parts, and the memory the GC has committed (MB), so the sampled
# peak says whether the managed heap or native memory (ONNX Runtime, malloc) holds it.
( while kill -0 "$pid" 2>/dev/null; do
    echo "$(rss VmRSS) $(rss RssAnon) $(rss RssFile) $(metric cl_gc_committed_bytes | awk '{ printf "%.1f", $1 / 1048576 }')"; sleep 0.2
  done ) > "$work/rss.txt" 2>/dev/null & pids+=($!)
wait_for() { # metric minimum
  for _ in $(seq 1 "${MAX_WAIT:-180}"); do [ "$(metric "$1" | cut -d. -f1)" -ge "$2" ] 2>/dev/null && return 0; sleep 1; done
  echo "timed out waiting for $1 >= $2" >&2; tail -n 20 "$work/daemon.log" >&2; return 1
}
publish burst
wait_for cl_samples_labelled_total "$samples"
wait_for cl_training_runs_total 1
replay1=$(metric cl_replay_samples); after1=$(rss VmRSS)
publish more
wait_for cl_samples_labelled_total "$((samples + more))"
"$cl" device cmd fp train-now --broker "127.0.0.1:$port" --fleet fp --timeout 120 --operator-key "$work/operator/release.key" > "$work/train-now.txt" 2>&1 \
  || { cat "$work/train-now.txt" >&2; exit 1; }
wait_for cl_training_runs_total 2
sleep 2
labelled=$(metric cl_samples_labelled_total); runs=$(metric cl_training_runs_total); replay=$(metric cl_replay_samples)
hwm=$(rss VmHWM); after=$(rss VmRSS); after_split=$(split)
read -r peak_sampled peak_anon peak_file peak_gc < <(sort -n "$work/rss.txt" | tail -n1)
echo "workload=$workload engine=$engine ready_ms=$ready_ms rss_idle_mb=$idle rss_after_run1_mb=$after1 rss_training_max_sampled_mb=$peak_sampled rss_after_mb=$after rss_hwm_mb=$hwm labelled=$labelled runs=$runs replay_after_run1=$replay1 replay=$replay"
echo "idle: $idle_split; at the sampled max: anon=$peak_anon file=$peak_file gc_committed=$peak_gc; after: $after_split"
curl -sf "http://127.0.0.1:$http/metrics" | grep -E "^cl_(promotions_total|deltas_sent_total|gc_heap_bytes|gc_committed_bytes|gc_collections_total|gc_allocated_bytes_total|store_samples|training_seconds_total) " | tr '\n' ' '; echo
