#!/bin/bash
# The D-Bus tier. Creates what the tests need and may not exist: a system
# user for the unprivileged caller and a group standing for AdminGroup=
# (system accounts, no home, no login). Then runs the tier like any other.
set -eu
export FOVD_TEST_USER=failoverd-test FOVD_TEST_ADMIN_GROUP=failoverd-testadm
getent group "$FOVD_TEST_ADMIN_GROUP" >/dev/null || groupadd --system "$FOVD_TEST_ADMIN_GROUP"
id -u "$FOVD_TEST_USER" >/dev/null 2>&1 ||
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		"$FOVD_TEST_USER"
# failoverctl -H (tests/ctl/dbus-remote.c): ssh to the test's own sshd.
for tool in dbus-daemon busctl systemd-analyze setpriv man ssh ssh-keygen systemd-stdio-bridge \
	/usr/sbin/sshd; do
	command -v "$tool" >/dev/null || {
		echo "dbus tier: $tool is missing (run make deps)" >&2
		exit 1
	}
done
exec ./tests/run-tier.sh dbus 600 "$@"
