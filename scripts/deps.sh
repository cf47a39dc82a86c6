#!/bin/sh
# Install the Debian packages failoverd needs to build, test and demo.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -eu

# clang + libclang-rt-dev (the sanitizer and libFuzzer runtimes, only recommended
# by clang) + llvm (llvm-symbolizer): make check-sanitize and make fuzz.
BUILD_PKGS="build-essential pkg-config libjson-c-dev libnl-3-dev libnl-route-3-dev
libudev-dev libevent-dev libsystemd-dev check valgrind clang-format
clang libclang-rt-dev llvm"
# libvirt-daemon-system (libvirtd, virtlogd, qemu.conf, the libvirt-qemu user) and
# libvirt-clients (virsh): make check-libvirt.
TEST_PKGS="kmod cpio gzip xz-utils busybox-static dbus-daemon dbus-bin iproute2
procps util-linux systemd socat man-db dbus-system-bus-common passwd
openssh-server openssh-client dbus jq libvirt-daemon-system libvirt-clients"
BACKPORTS_PKGS="qemu-system-x86"
# make deb: the package build and its check.
[ "${1:-}" = deb ] && BUILD_PKGS="$BUILD_PKGS debhelper dpkg-dev fakeroot lintian"

missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -Eq '^install ok (installed|triggers-pending|triggers-awaited)$' || echo "$p"
	done
}

# Reuse the mirror already configured for bookworm; never name a host here.
enable_backports() {
	if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
		grep -v security | head -n1 || true)
	if [ -z "$uri" ]; then
		uri=$(grep -hsE '^deb[[:space:]]' /etc/apt/sources.list |
			grep -v security | awk '{print $2}' | head -n1 || true)
	fi
	if [ -z "$uri" ]; then
		echo "deps: cannot find a Debian mirror in apt sources to reuse for bookworm-backports" >&2
		exit 1
	fi
	cat >/etc/apt/sources.list.d/failoverd-backports.sources <<EOS
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	echo "deps: enabled bookworm-backports from $uri"
}

need=$(missing $BUILD_PKGS $TEST_PKGS)
need_bp=$(missing $BACKPORTS_PKGS)
[ -z "$need$need_bp" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages ($need $need_bp); run as root to install them" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
[ -n "$need_bp" ] && enable_backports
apt-get update -qq
if [ -n "$need" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need
fi
if [ -n "$need_bp" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends -t bookworm-backports $need_bp
fi
