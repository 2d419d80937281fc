#!/usr/bin/env bash
# Create one venv per peer library for benchmarks/bench_raking.py and bench_survey.py (not part of CI).
#
#   bash benchmarks/setup_peers.sh            # -> /work/bench-venvs/<name>
#   BENCH_VENVS=/some/dir bash benchmarks/setup_peers.sh
#
# Each venv is installed from the exact `pip freeze` it was benchmarked with
# (benchmarks/peers/requirements/<name>.txt). Headline pins:
#   balance     0.23.0  numpy 1.26.4 (balance needs numpy<2), pandas 3.0.6, pyarrow 17.0.0
#               (pyarrow >= 18 needs numpy 2)
#   weightipy   0.4.2   numpy 2.4.6, pandas 3.1.1, pyarrow 26.0.1  (>= 0.4.2 needed for pandas 3)
#   ipfn        1.4.4   numpy 2.4.6, pandas 3.1.1, pyarrow 26.0.1
#   svy         0.35.0  svy_rs 0.19.1, polars 2.1.0, numpy 2.4.6, pyarrow 26.0.1
#   humanleague 2.4.3   numpy 2.4.6, pandas 3.1.1, pyarrow 26.0.1  (newest with a cp311 wheel here)
#   samplics    0.6.1   numpy 2.4.6, pandas 3.1.2, polars 2.2.0  (its __version__ says 0.6.0; archived upstream;
#               bench_survey.py only: `setup_peers.sh svy samplics`)
# personacal and the numpy baselines run in the project's dev venv (/work/venv-core).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${BENCH_VENVS:-/work/bench-venvs}"
python="${PYTHON:-python3}"
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(balance weightipy ipfn svy humanleague)

"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || echo "warning: the pins were made with Python 3.11; other versions may lack wheels" >&2

mkdir -p "$root"
for name in "${names[@]}"; do
  req="$here/peers/requirements/$name.txt"
  [ -f "$req" ] || { echo "no $req" >&2; exit 1; }
  echo "== $name -> $root/$name"
  rm -rf "${root:?}/$name"
  "$python" -m venv "$root/$name"
  "$root/$name/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  "$root/$name/bin/python" - "$name" <<'EOF'
import importlib, sys
name = sys.argv[1]
mod = importlib.import_module(name)
import numpy, pyarrow
print(f"   {name} ok: numpy {numpy.__version__}, pyarrow {pyarrow.__version__}")
EOF
done
