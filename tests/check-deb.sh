#!/bin/bash
# make check-deb: what `make deb` built is the package an operator installs —
# every file in place, the maintainer scripts from debhelper (units enabled
# or not as intended, the sysusers group), and lintian without errors or
# warnings. Prints each check as it passes.
set -euo pipefail
deb=$1
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
ok() { echo "check-deb: ok: $*"; }

files=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
for f in /usr/sbin/failoverd /usr/bin/failoverctl \
	/lib/systemd/system/failoverd.service /lib/systemd/system/failoverd-qmp.socket \
	/usr/lib/sysusers.d/failoverd.conf \
	/usr/share/dbus-1/system.d/org.failoverd1.conf \
	/usr/share/dbus-1/system-services/org.failoverd1.service \
	/usr/share/man/man8/failoverd.8.gz /usr/share/man/man1/failoverctl.1.gz \
	/usr/share/bash-completion/completions/failoverctl \
	/usr/share/doc/failoverd/examples/failoverd.conf /usr/share/doc/failoverd/examples/libvirt-hook-qemu \
	/usr/share/doc/failoverd/copyright; do
	grep -qx "$f" <<<"$files" || fail "$f is not in $deb"
done
ok "every file in place"

ctl=$(mktemp -d)
trap 'rm -rf "$ctl"' EXIT
dpkg-deb -e "$deb" "$ctl"
grep -q "deb-systemd-helper enable 'failoverd.service'" "$ctl/postinst" ||
	fail "postinst does not enable failoverd.service"
grep -q "deb-systemd-invoke \$_dh_action 'failoverd.service'" "$ctl/postinst" ||
	fail "postinst does not start failoverd.service"
# --no-enable: enabled again on upgrade only where an operator had enabled it, never started.
grep -q "deb-systemd-helper debian-installed 'failoverd-qmp.socket'" "$ctl/postinst" ||
	fail "postinst enables failoverd-qmp.socket on a new install (it is for operators to enable)"
if grep -q "deb-systemd-invoke .*'failoverd-qmp.socket'" "$ctl/postinst"; then
	fail "postinst starts failoverd-qmp.socket"
fi
grep -q 'systemd-sysusers.*failoverd.conf' "$ctl/postinst" ||
	fail "postinst does not create the failoverd group (systemd-sysusers)"
grep -q 'Automatically added by dh_installsystemd' "$ctl/prerm" ||
	fail "prerm does not come from dh_installsystemd"
ok "maintainer scripts from debhelper: service enabled and started, socket left to the operator, group by sysusers"

dpkg-deb -f "$deb" Depends | grep -q 'libsystemd0' || fail "Depends lacks the shared libraries"
ok "Depends: $(dpkg-deb -f "$deb" Depends)"
# failoverctl -H: ssh here, systemd-stdio-bridge (systemd) and an sshd on the host reached.
dpkg-deb -f "$deb" Recommends | grep -qw 'systemd' || fail "Recommends lacks systemd"
dpkg-deb -f "$deb" Suggests | grep -qw 'openssh-client' || fail "Suggests lacks openssh-client"
ok "Recommends: $(dpkg-deb -f "$deb" Recommends); Suggests: $(dpkg-deb -f "$deb" Suggests)"

out=$(lintian --display-info --fail-on error,warning "$deb" 2>/dev/null) || { echo "$out"; fail "lintian"; }
tags=$(grep -E '^[EWIPX]: ' <<<"$out" | sed 's/^/  /' || true)
ok "lintian: no errors, no warnings${tags:+; left:
$tags}"
