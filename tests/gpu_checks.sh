#!/usr/bin/env bash
# GPU checks, for a machine with a CUDA GPU (CI has none): the unit tests on cuda, then every lesson
# run top to bottom as a plain script on cuda. Usage: bash tests/gpu_checks.sh   (from the repository root)
# Needs torch, pytest, hypothesis, scikit-image, pyyaml, matplotlib, ipython and ipywidgets.
set -uo pipefail
export COURSE_DEVICE="${COURSE_DEVICE:-cuda}" MPLBACKEND=Agg PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name(0))" || exit 1
status=0
# test_notebooks needs jupytext and executed notebooks: it is CPU-only bookkeeping
python3 -m pytest tests -q -p no:cacheprovider --ignore=tests/test_notebooks.py -rs || status=1
for nb in notebooks/[0-9][0-9]_*.py; do
  TIMEFORMAT="$nb: %R s on $COURSE_DEVICE"
  time { (cd notebooks && python3 "$(basename "$nb")" > /dev/null) || { echo "FAILED: $nb"; status=1; }; }
done
exit $status
