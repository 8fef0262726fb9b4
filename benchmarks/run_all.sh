#!/usr/bin/env bash
# Re-measure every target into OUT (default /tmp/vcam-results). Needs ../shared/data for the data-bound
# parts. The MediaPipe baseline needs a venv of its own (mediapipe needs numpy<2, see
# benchmarks/mediapipe_baseline.py): name it with MPVENV=DIR; without it that part is skipped.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${1:-/tmp/vcam-results}
DATA=${VCAM_LIPSTICK_DATA:-../shared/data}
MPVENV=${MPVENV:-}
mkdir -p "$OUT"
run() { echo "== $1" >&2; shift; "$@"; }
run "eval val"     vcam-lipstick eval --data "$DATA/lips/val" --json --report "$OUT/report_val" > "$OUT/eval_val.json"
[ -d "$OUT/webcam_val" ] || vcam-lipstick synth --data "$DATA/lips/val" --out "$OUT/webcam_val" 2>/dev/null
run "eval webcam"  vcam-lipstick eval --data "$OUT/webcam_val" --json --report "$OUT/report_webcam" > "$OUT/eval_webcam.json"
[ -d "$OUT/occluded_val" ] || vcam-lipstick synth --data "$DATA/lips/val" --out "$OUT/occluded_val" --occlude --aligned 2>/dev/null
run "eval occluded"  vcam-lipstick eval --data "$OUT/occluded_val" --json --report "$OUT/report_occluded" > "$OUT/eval_occluded.json"
[ -d "$OUT/occluded_webcam" ] || vcam-lipstick synth --data "$DATA/lips/val" --out "$OUT/occluded_webcam" --occlude 2>/dev/null
run "eval occluded webcam" vcam-lipstick eval --data "$OUT/occluded_webcam" --json > "$OUT/eval_occluded_webcam.json"
run "envelope"     python benchmarks/acquisition_envelope.py --json > "$OUT/envelope.json"
run "bench demo"   vcam-lipstick bench --json > "$OUT/bench_demo.json"
run "bench clip"   vcam-lipstick bench --video "$DATA/clips/videos/v02_woman-indoor-wide-speaking.mp4" --json > "$OUT/bench_v02.json"
run "clips"        python benchmarks/clips_bench.py --json > "$OUT/clips.json"
run "render"       python benchmarks/render_metrics.py --data "$DATA/lips/val" --json > "$OUT/render.json"
run "stability"    python benchmarks/stability.py --json > "$OUT/stability.json"
run "app"          python benchmarks/app_bench.py --seconds 60 --json > "$OUT/app.json"
run "waiting"      python benchmarks/waiting_source.py --seconds 16 --json > "$OUT/waiting.json"
run "palette"      python benchmarks/palette_bench.py --json > "$OUT/palette.json"
if [ -n "$MPVENV" ] && [ -x "$MPVENV/bin/python" ]; then
    run "mediapipe val"    "$MPVENV/bin/python" benchmarks/mediapipe_baseline.py --data "$DATA/lips/val" \
        --video "$DATA/clips/videos/v02_woman-indoor-wide-speaking.mp4" --json > "$OUT/mediapipe_val.json"
    run "mediapipe webcam" "$MPVENV/bin/python" benchmarks/mediapipe_baseline.py --data "$OUT/webcam_val" --json \
        > "$OUT/mediapipe_webcam.json"
    # The attention model refines the lip landmarks: MediaPipe's most accurate (and slower) setting.
    run "mediapipe refined val"    "$MPVENV/bin/python" benchmarks/mediapipe_baseline.py --refine-landmarks \
        --data "$DATA/lips/val" --video "$DATA/clips/videos/v02_woman-indoor-wide-speaking.mp4" --json \
        > "$OUT/mediapipe_refined_val.json"
    run "mediapipe refined webcam" "$MPVENV/bin/python" benchmarks/mediapipe_baseline.py --refine-landmarks \
        --data "$OUT/webcam_val" --json > "$OUT/mediapipe_refined_webcam.json"
else
    echo "== mediapipe: skipped (set MPVENV to its venv)" >&2
fi
du -b vcam_lipstick/models/*.onnx | awk '{s+=$1} END {print "onnx bytes", s}' > "$OUT/model_size.txt"
echo "results in $OUT"
