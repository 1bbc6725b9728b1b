#!/usr/bin/env bash
# The whole test suite: set the machine up (idempotent), then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The e2e tests find the guest and the registry through these.
export VIRTCTL_TEST_GUEST_DIR="$PWD/guest"
export VIRTCTL_TEST_REGISTRY="127.0.0.1:${REGISTRY_PORT:-5000}"
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" tests
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi
exit "$rc"
