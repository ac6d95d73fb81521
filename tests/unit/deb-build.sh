#!/bin/sh
# debian/ builds the binary packages: dpkg-buildpackage -us -uc -b on a
# `make distdir` copy (the tarball's files, so debian/ and the dist list are
# checked together), then each package holds what it must. The .debs stay
# in tests/pkg/ for the systemd-as-PID-1 VM run (tests/vm/run.sh systemd).
set -eu
builddir=$(cd "${top_builddir:-.}" && pwd)
pkgdir=$builddir/tests/pkg
fail=0

if [ -n "${UBLK_IN_DEB_BUILD:-}" ]; then
	echo "deb-build: running inside the package build this test does"
	exit 77
fi
if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
	echo "deb-build: dpkg-buildpackage or debhelper not installed"
	exit 77
fi
rm -rf "$pkgdir"
mkdir -p "$pkgdir"
${MAKE:-make} -C "$builddir" distdir distdir="$pkgdir/src" >"$pkgdir/distdir.log" 2>&1 ||
	{ cat "$pkgdir/distdir.log"; echo "deb-build: make distdir failed"; exit 1; }
# no make check inside: this very suite is what it would run
if ! (cd "$pkgdir/src" && UBLK_IN_DEB_BUILD=1 DEB_BUILD_OPTIONS="nocheck parallel=2" \
	dpkg-buildpackage -us -uc -b) >"$pkgdir/build.log" 2>&1; then
	tail -n 40 "$pkgdir/build.log"
	echo "deb-build: dpkg-buildpackage failed (log: $pkgdir/build.log)"
	exit 1
fi
rm -rf "$pkgdir/src"

# has DEB PATTERN...: the package's file list matches every pattern
has() {
	deb=$(ls "$pkgdir"/"$1"_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || { echo "deb-build: no $1 package"; fail=1; return 0; }
	shift
	dpkg-deb -c "$deb" | awk '{ print $6 }' >"$pkgdir/files"
	for p in "$@"; do
		grep -Eq "^\\./$p\$" "$pkgdir/files" ||
			{ echo "deb-build: $(basename "$deb") lacks $p"; fail=1; }
	done
}
# lacks DEB PATTERN: no file matches
lacks() {
	deb=$(ls "$pkgdir"/"$1"_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || return 0
	if dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -Eq "^\\./$2\$"; then
		echo "deb-build: $(basename "$deb") ships $2"
		fail=1
	fi
}
has ublk usr/bin/ublk usr/share/man/man8/ublk.8.gz \
	usr/lib/systemd/system/ublk@.service usr/lib/udev/rules.d/60-ublk.rules usr/lib/udev/rules.d/60-ublk-scheduler.rules \
	usr/share/bash-completion/completions/ublk etc/ublk/
has libublksrv0 'usr/lib/[^/]*/libublksrv\.so\.0' 'usr/lib/[^/]*/libublksrv\.so\.0\.[0-9.]*'
has libublksrv-dev usr/include/ublk/ublksrv.h usr/include/ublk/ublk_cmd.h \
	'usr/lib/[^/]*/libublksrv\.so' 'usr/lib/[^/]*/libublksrv\.a' \
	'usr/lib/[^/]*/pkgconfig/ublksrv\.pc'
lacks libublksrv-dev 'usr/include/ublk/(json|priv)\.h'
lacks libublksrv-dev '.*\.la'
# the unit and the rule name the installed binary
deb=$(ls "$pkgdir"/ublk_*.deb | head -n 1)
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/lib/systemd/system/ublk@.service |
	grep -q '^ExecStart=/usr/bin/ublk start' ||
	{ echo "deb-build: ublk@.service does not run /usr/bin/ublk"; fail=1; }
dpkg-deb -f "$(ls "$pkgdir"/libublksrv0_*.deb | head -n 1)" Depends | grep -q liburing ||
	{ echo "deb-build: libublksrv0 does not depend on liburing"; fail=1; }
rm -f "$pkgdir/files"
[ "$fail" = 0 ] && echo "deb-build: built $(cd "$pkgdir" && ls ./*.deb | xargs)"
exit "$fail"
