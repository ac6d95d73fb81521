#!/bin/bash
# PID 1 of the VM in `tests/vm/run.sh systemd`, until it execs systemd.
#
# virtme-ng's initramfs mounts the build root (9p, read-only, shared with
# other runs) and switch_roots into the first init= on the command line:
# this script. It lays a writable overlay over that root whose upper layer
# is on the VM's own disk (/dev/vda, an ext4 image run.sh made), so that
# packages installed, units enabled and backing files survive a reboot of
# the VM, mounts the host's shared directories (virtme_initmountN=PATH), and
# execs systemd as PID 1 in the overlay. Nothing is written to the build root.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

die() {
	echo "systemd-init: $*" >&2
	echo "systemd-init: $*" >/dev/kmsg 2>/dev/null
	sleep 2
	echo o >/proc/sysrq-trigger # power off: the host sees no results
	exit 1
}

mount -t proc proc /proc || die "cannot mount /proc"
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
modprobe -a virtio_blk ext4 overlay 9pnet_virtio 9p 2>/dev/null
for ((i = 0; i < 100; i++)); do
	[ -b /dev/vda ] && break
	sleep 0.1
done
[ -b /dev/vda ] || die "no /dev/vda: run.sh gives the VM its disk with --disk"

mount -t tmpfs -o mode=0755 sysinit /run || die "cannot mount a tmpfs on /run"
mkdir -p /run/disk /run/new
mount -t ext4 /dev/vda /run/disk || die "cannot mount /dev/vda"
mkdir -p /run/disk/upper /run/disk/work
mount -t overlay overlay \
	-o lowerdir=/,upperdir=/run/disk/upper,workdir=/run/disk/work /run/new ||
	die "cannot mount the overlay root"

# shellcheck disable=SC2013 # words of the command line
for arg in $(cat /proc/cmdline); do
	case $arg in
	virtme_initmount[0-9]*=*)
		tag=${arg%%=*}
		tag=virtme.initmount${tag#virtme_initmount}
		path=/run/new/${arg#*=}
		mkdir -p "$path"
		mount -t 9p -o trans=virtio,version=9p2000.L,access=any,msize=512000 \
			"$tag" "$path" || die "cannot mount $tag on $path"
		;;
	esac
done

# The checks run as a service once the system is up (tests/vm/systemd-test.sh).
unit=/run/new/etc/systemd/system/ublk-systemd-test.service
cat >"$unit" <<'UNIT'
[Unit]
Description=ublk checks under systemd (tests/vm/run.sh systemd)
After=basic.target systemd-udevd.service

[Service]
Type=simple
ExecStart=/build/src/tests/vm/systemd-test.sh
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p /run/new/etc/systemd/system/multi-user.target.wants
ln -sf ../ublk-systemd-test.service /run/new/etc/systemd/system/multi-user.target.wants/

# The overlay becomes / (as switch_root does it) and systemd PID 1 there.
umount /sys /proc
mountpoint -q /dev && umount -l /dev
cd /run/new || die "cd /run/new"
mount --move . / || die "cannot move the overlay onto /"
exec chroot . /lib/systemd/systemd "$@"
