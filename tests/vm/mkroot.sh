#!/bin/bash
# Build (or reuse) the Debian 13 root filesystem the VM tests boot from.
# Prints the root's path on stdout; everything else goes to stderr.
#
# The root lives outside the work tree, keyed by the package list, so a second
# run reuses it and a fresh machine builds it from nothing (~2 min, ~2 GiB).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${UBLK_VM_CACHE:-/var/cache/ublk-vm}
pkgs=$(grep -v '^#' "$here/packages.txt" | xargs)
# Content only: the same recipe gives the same key from any checkout.
key=$(printf '%s\n%s\n' "$pkgs" "$(sha256sum <"$here/mkroot.sh")" | sha256sum | cut -c1-16)
root=$cache/root-$key

log() { echo "mkroot: $*" >&2; }

if [ -f "$root/.ublk-root-complete" ]; then
	echo "$root"
	exit 0
fi

# The Debian archive the host's apt already uses: the first URI of a deb
# source (deb822 or one-line) for the host's own release (not -security).
host_mirror() {
	local codename f

	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || return 0
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v want="$codename" 'BEGIN { RS = ""; FS = "\n" }
		{
			deb = 0; uri = ""; suite = 0
			for (i = 1; i <= NF; i++) {
				n = split($i, w, /[ \t]+/)
				for (j = 2; j <= n; j++) {
					if (w[1] == "Types:" && w[j] == "deb") deb = 1
					if (w[1] == "URIs:" && uri == "") uri = w[j]
					if (w[1] == "Suites:" && w[j] == want) suite = 1
				}
			}
			if (deb && suite && uri != "") { print uri; exit }
		}' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v want="$codename" '$1 == "deb" {
			i = 2; if ($i ~ /^\[/) while (i < NF && $i !~ /\]$/) i++
			if ($i ~ /\]$/) i++
			if ($(i + 1) == want) print $i
		}'
}

[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap, chroot)"; exit 1; }
mirror=${UBLK_VM_MIRROR:-$(host_mirror | grep -m1 . || true)}
[ -n "$mirror" ] ||
	{ log "no Debian mirror in the host's apt sources; set UBLK_VM_MIRROR"; exit 1; }
log "mirror: $mirror (from the host's apt sources; UBLK_VM_MIRROR overrides)"
if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap"
	apt-get install -y -qq debootstrap >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq debootstrap >&2; }
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/build.XXXXXX")
cleanup() {
	for m in dev/pts dev sys proc; do
		mountpoint -q "$tmp/$m" 2>/dev/null && umount -l "$tmp/$m"
	done
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

log "debootstrap trixie into $tmp"
debootstrap --variant=minbase --include=ca-certificates trixie "$tmp" "$mirror" >&2

cat >"$tmp/etc/apt/sources.list" <<SRC
deb $mirror trixie main
deb $mirror trixie-backports main
SRC
echo ublk-vm >"$tmp/etc/hostname"

# rslave: unmounting these copies must not propagate to the host's mounts.
mount -t proc proc "$tmp/proc"
mount --rbind /sys "$tmp/sys"
mount --make-rslave "$tmp/sys"
mount --rbind /dev "$tmp/dev"
mount --make-rslave "$tmp/dev"

log "installing packages"
chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
# shellcheck disable=SC2086
chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends -t trixie-backports $pkgs >&2
chroot "$tmp" apt-get clean

for m in dev sys proc; do umount -l "$tmp/$m"; done
touch "$tmp/.ublk-root-complete"
rm -rf --one-file-system "$root"
mv "$tmp" "$root"
trap - EXIT
log "root ready: $root"
echo "$root"
