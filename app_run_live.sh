#!/usr/bin/env bash
# The design note's operator command: `./app_run_live.sh --loop` runs the live bot on Coinbase.
# `--live` is implied by this script's name and said on the first line of output; every other flag
# goes to `makerfirst run` unchanged (which stays the one implementation), e.g. --db, --policy,
# --web 127.0.0.1:8801, --log-file, --credentials FILE (else COINBASE_API_KEY_NAME and
# COINBASE_API_PRIVATE_KEY from the environment), or --exchange/--api-url to point elsewhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -x "$here/.venv/bin/makerfirst" ]; then
  makerfirst="$here/.venv/bin/makerfirst"
elif command -v makerfirst >/dev/null 2>&1; then
  makerfirst="$(command -v makerfirst)"
else
  echo "error: makerfirst is not installed: python3 -m venv .venv && .venv/bin/pip install -e ." >&2
  exit 2
fi

echo "app_run_live.sh: LIVE trading (--live implied): makerfirst run --exchange coinbase --live $*"
# The defaults come first: a flag given again in "$@" wins.
exec "$makerfirst" run --exchange coinbase --live "$@"
