#!/usr/bin/env bash
# Are fresh CPU training processes bit-identical? Runs issue #15's command N times (default 20), one after
# another, and prints the SHA-256 of every checkpoint's tensors per run, then how many distinct final states
# there were (1 means reproducible). Usage: bash scripts/check_reproducible.sh [N] [WORKDIR]
set -euo pipefail
n=${1:-20}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
for i in $(seq 1 "$n"); do
  rm -rf "$work/run$i"
  emubench -q train cosmogan-dcgan --preset smoke --max-steps 80 -c ckpt_every=20 --device cpu --out "$work/run$i" \
    > "$work/log$i.txt" 2>&1
  python - "$work/run$i" <<'PY'
import hashlib
import sys
from pathlib import Path

from safetensors.numpy import load_file

run = Path(sys.argv[1])
for ckpt in sorted((run / "checkpoints").glob("step-*.safetensors")):
    tensors = load_file(ckpt)
    digest = hashlib.sha256(b"".join(tensors[k].tobytes() for k in sorted(tensors))).hexdigest()[:16]
    print(run.name, ckpt.stem, digest, flush=True)
PY
done | tee "$work/hashes.txt"
echo "distinct final states over $n runs: $(grep step-0000080 "$work/hashes.txt" | awk '{print $3}' | sort | uniq -c)"
