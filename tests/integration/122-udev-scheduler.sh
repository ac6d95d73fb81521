#!/bin/bash
# Proves utils/60-ublk-scheduler.rules gives ublk block devices the `none`
# I/O scheduler: `udevadm verify` accepts it; with udevd running and the
# rule loaded, a new one-queue device (which the kernel gives mq-deadline)
# has [none] once udev settles; with the rule gone, a new device keeps the
# kernel's choice again (so the check is the rule's doing).
# timeout: 200
. "$(dirname "$0")/lib.sh"

command -v udevadm >/dev/null || skip "udevadm is not installed"
src=$(dirname "$(command -v ublk)")
rule=$src/utils/60-ublk-scheduler.rules
[ -f "$rule" ] || skip "no $rule (ublk does not run from a source tree)"
udevadm verify "$rule" >"$T_WORK/udev.log" 2>&1 || fail "udevadm verify: $(cat "$T_WORK/udev.log")"
pgrep -x systemd-udevd >/dev/null || skip "systemd-udevd is not running"

sched() { sed 's/.*\[\(.*\)\].*/\1/' "/sys/block/ublkb$1/queue/scheduler"; }
sched_is() { [ "$(sched "$1")" = "$2" ]; }

# the kernel's choice for this device, without the rule
ublk_add -t null -q 1 --size 64M
udevadm settle -t 30
kernel_default=$(sched "$DEV_ID")
ublk_del "$DEV_ID"
log "without the rule: $kernel_default"
[ "$kernel_default" != none ] ||
	skip "this kernel already gives a one-queue ublk device 'none': the rule cannot be told apart"

mkdir -p /run/udev/rules.d
cp "$rule" /run/udev/rules.d/60-ublk-scheduler.rules
on_exit "rm -f /run/udev/rules.d/60-ublk-scheduler.rules; udevadm control --reload"
udevadm control --reload
ublk_add -t null -q 1 --size 64M
udevadm settle -t 30
wait_for 10 sched_is "$DEV_ID" none ||
	fail "with the rule, ublkb$DEV_ID has scheduler $(cat "/sys/block/ublkb$DEV_ID/queue/scheduler")"
log "with the rule: $(cat "/sys/block/ublkb$DEV_ID/queue/scheduler")"
ruled=$DEV_ID
ublk_del "$ruled"
# events of that device, run under the rule, are over before it goes
udevadm settle -t 30

# overridable: masking the rule restores the kernel's choice (on another
# id: a late event of the old ublkbN cannot reach the new one)
rm -f /run/udev/rules.d/60-ublk-scheduler.rules
ln -s /dev/null /run/udev/rules.d/60-ublk-scheduler.rules
udevadm control --reload
ublk_add -t null -q 1 --size 64M -n $((ruled + 1))
udevadm settle -t 30
sched_is "$DEV_ID" "$kernel_default" ||
	fail "with the rule masked, ublkb$DEV_ID has $(sched "$DEV_ID"), expected $kernel_default"
ublk_del "$DEV_ID"
