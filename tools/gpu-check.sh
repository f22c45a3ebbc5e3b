#!/usr/bin/env bash
# The torch trainer's GPU check (docs/SCALE.md): one run of at most ~8 minutes on one H100/H200 that installs
# nothing, printing one JSON line — BF16 full and LoRA training of a Qwen2.5-0.5B-shaped random model (tokens/s,
# MFU, peak memory), 3-step parity of CUDA FP32/BF16 against CPU FP32, FSDP at world size 1 against the plain path
# and FSDP killed + resumed against uninterrupted (python/sso_torch/gpucheck.py). Without CUDA (or with --small)
# it says the CUDA parts were skipped and runs a tiny model on CPU. Python: $SSO_PYTHON, else python3 with torch,
# else /usr/bin/python3. Exit 0 when every part that ran succeeded.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${SSO_PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3 /usr/bin/python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" >/dev/null 2>&1; then py="$cand"; break; fi
  done
fi
if [ -z "$py" ]; then
  echo '{"error":"gpu-check: no python with torch found (set SSO_PYTHON); nothing was run"}'
  exit 1
fi
PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" exec timeout -k 10 "${SSO_GPU_CHECK_TIMEOUT:-480}" "$py" -m sso_torch gpu-check "$@"
