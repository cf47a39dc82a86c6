#!/bin/bash
# The full-stack tier (docs/qemu-failover.md §guests, "the whole stack with a real VF"): the igb
# guest of tests/run-kernel-tier.sh (L1, -m 2048 -smp 2) runs each given
# binary from this source tree, with the failover test guest's environment
# so that it can start nested QEMUs (L2, TCG inside TCG) with real VFs.
#
#   tests/run-full-tier.sh build/tests/*/full-*
#
# TCG inside TCG is the most sensitive to a competing guest: the run holds
# the TCG lock, taking it itself unless an ancestor process already holds it
# (`flock /tmp/failoverd-tcg.lock make check`), where taking it again would
# deadlock. Prints "full: N passed, N failed".
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tcg-lock.sh
. "$here/lib/tcg-lock.sh"

l2=$("$here/guest/build-guest.sh" failover) || {
	echo "!! full: cannot build the failover test guest" >&2
	exit 1
}
export FOVD_TIER=full
export FOVD_TIER_CWD=${here%/tests}
export FOVD_TIER_ENV=$l2
export FOVD_TEST_TIMEOUT=${FOVD_TEST_TIMEOUT:-1560}
export FOVD_KERNEL_TIMEOUT=${FOVD_KERNEL_TIMEOUT:-1680}
if lock_held_by_ancestor; then
	exec "$here/run-kernel-tier.sh" "$@"
fi
echo "== full: waiting for the TCG lock $lock" >&2
exec flock "$lock" "$here/run-kernel-tier.sh" "$@"
