#!/bin/bash
# Proves the service files work as installed:
# - `make install` puts ublk, ublk@.service (in systemdsystemunitdir), the
#   udev rule, ublk(8) and the bash completion in place;
# - `systemd-analyze verify` accepts the unit (and rejects a broken copy, so
#   the check is real); `udevadm verify` accepts the rule, and applied it
#   gives /dev/ublk-control group disk, mode 0660; the completion loads;
# - the unit's own ExecStart and ExecStop command lines, run as systemd
#   would with %i = t1 and /etc/ublk/t1.ini (loop, id 31, recovery=reissue):
#   ExecStart serves in the foreground and sends READY=1 with its pid over
#   $NOTIFY_SOCKET once the device is LIVE; after a crash (SIGKILL) ExecStop
#   keeps the device QUIESCED and ExecStart again (Restart=on-failure)
#   recovers it, data intact; ExecStop then deletes it, ExecStart exits 0
#   after sending STOPPING=1.
# timeout: 500
. "$(dirname "$0")/lib.sh"

for c in make systemd-analyze udevadm python3; do
	command -v "$c" >/dev/null || skip "$c is not installed"
done
src=$(dirname "$(command -v ublk)")
[ -f "$src/Makefile" ] || skip "ublk does not run from a build tree ($src)"

# install from a copy: the build tree may be read-only
cp -a "$src" "$T_WORK/build"
make -C "$T_WORK/build" install >"$T_WORK/install.log" 2>&1 ||
	fail "make install failed: $(tail -n 20 "$T_WORK/install.log")"
on_exit "make -C '$T_WORK/build' uninstall >/dev/null 2>&1"
get_var() { sed -n "s|^$1 = ||p" "$T_WORK/build/Makefile" | head -n 1; }
prefix=$(get_var prefix)
unitdir=$(get_var systemdsystemunitdir)
unitdir=${unitdir//\$\{prefix\}/$prefix}
bin=$prefix/bin/ublk
unit=$unitdir/ublk@.service
rule=$prefix/lib/udev/rules.d/60-ublk.rules
for f in "$bin" "$unit" "$rule" "$prefix/lib/udev/rules.d/60-ublk-scheduler.rules" \
	"$prefix/share/man/man8/ublk.8" \
	"$prefix/share/bash-completion/completions/ublk"; do
	[ -s "$f" ] || fail "make install did not install $f"
done
"$bin" --version | grep -q '^ublk ' || fail "$bin --version: $("$bin" --version 2>&1)"
grep -q '^\.TH UBLK 8' "$prefix/share/man/man8/ublk.8" || fail "ublk.8 is not a man page"
log "installed under $prefix; unit $unit"

# the unit
grep -qx "ExecStart=$bin start --config /etc/ublk/%i.ini" "$unit" ||
	fail "unit ExecStart: $(grep ExecStart= "$unit")"
grep -qx 'Type=notify' "$unit" && grep -qx 'Restart=on-failure' "$unit" ||
	fail "unit should be Type=notify, Restart=on-failure"
mkdir -p "$T_WORK/units"
cp "$unit" "$T_WORK/units/ublk@t1.service"
systemd-analyze verify --man=no "$T_WORK/units/ublk@t1.service" \
	>"$T_WORK/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$T_WORK/verify.log")"
log "systemd-analyze verify: ok $(head -c 300 "$T_WORK/verify.log")"
sed "s|^ExecStart=.*|ExecStart=$T_WORK/no-such-binary|" "$unit" >"$T_WORK/units/ublk@broken.service"
if systemd-analyze verify --man=no "$T_WORK/units/ublk@broken.service" >/dev/null 2>&1; then
	fail "systemd-analyze verify accepts a unit whose ExecStart does not exist"
fi

# the udev rule and the completion
udevadm verify "$rule" >"$T_WORK/udev.log" 2>&1 || fail "udevadm verify: $(cat "$T_WORK/udev.log")"
if pgrep -x systemd-udevd >/dev/null; then
	mkdir -p /etc/udev/rules.d
	cp "$rule" /etc/udev/rules.d/60-ublk.rules
	on_exit "rm -f /etc/udev/rules.d/60-ublk.rules; udevadm control --reload; chgrp root /dev/ublk-control; chmod 0600 /dev/ublk-control"
	udevadm control --reload
	udevadm trigger --action=change --settle /dev/ublk-control
	want="disk 660"
	# a udevd that never resolves names ignores GROUP="disk"
	if pgrep -a systemd-udevd | grep -q -- '--resolve-names=never'; then
		want="$(stat -c %G /dev/ublk-control) 660"
		log "this udevd runs with --resolve-names=never: checking the mode only"
	fi
	[ "$(stat -c '%G %a' /dev/ublk-control)" = "$want" ] ||
		fail "after the udev rule /dev/ublk-control is $(stat -c '%G %a' /dev/ublk-control), expected $want"
	log "udev rule applied: /dev/ublk-control is $(stat -c '%G %a' /dev/ublk-control)"
fi
bash -c "source '$prefix/share/bash-completion/completions/ublk' && complete -p ublk" \
	>"$T_WORK/compl.log" 2>&1 || fail "the bash completion does not load: $(cat "$T_WORK/compl.log")"

# ExecStart / ExecStop as systemd runs them
cmd_of() { sed -n "s|^$1=||p" "$unit" | sed 's|%i|t1|g; s|^-||'; }
start_cmd=$(cmd_of ExecStart)
stop_cmd=$(cmd_of ExecStop)
pre_cmd=$(cmd_of ExecStartPre)
make_backing "$T_WORK/backing" 32M
mkdir -p /etc/ublk
on_exit "rm -f /etc/ublk/t1.ini"
cat >/etc/ublk/t1.ini <<INI
[device]
target = loop
file = $T_WORK/backing
id = 31
queues = 2
recovery = reissue
INI

sock=$T_WORK/notify.sock
python3 - "$sock" "$T_WORK/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode().replace("\n", " ") + "\n")
PY
bg_register $!
wait_for 10 test -S "$sock" || fail "the notify listener did not start"

# exec_start: run ExecStart in the background as systemd would (SVC_PID)
SVC_PID=
exec_start() {
	local n
	n=$(wc -l <"$T_WORK/notify.log" 2>/dev/null || echo 0)
	# shellcheck disable=SC2086 # a command line, split as systemd does
	NOTIFY_SOCKET=$sock $start_cmd >"$T_WORK/svc.out" 2>"$T_WORK/svc.err" </dev/null &
	SVC_PID=$!
	bg_register "$SVC_PID"
	t_ready() { [ "$(sed -n "$((n + 1)),\$p" "$T_WORK/notify.log" 2>/dev/null | grep -c "READY=1")" -ge 1 ]; }
	wait_for 60 t_ready || fail "ExecStart sent no READY=1: $(cat "$T_WORK/svc.err")"
	grep "READY=1" "$T_WORK/notify.log" | tail -n 1 | grep -q "MAINPID=$SVC_PID" ||
		fail "READY=1 should carry MAINPID=$SVC_PID: $(tail -n 1 "$T_WORK/notify.log")"
	[ "$(dev_state 31)" = LIVE ] && [ "$(dev_pid 31)" = "$SVC_PID" ] ||
		fail "after READY=1 dev 31 should be LIVE served by $SVC_PID: $(dev_line 31 2)"
}

$pre_cmd || fail "ExecStartPre ($pre_cmd) failed"
exec_start
log "ExecStart: dev 31 LIVE, READY=1 from pid $SVC_PID"
make_pattern "$T_WORK/pattern" 4
dd if="$T_WORK/pattern" of=/dev/ublkb31 bs=1M oflag=direct status=none

# crash: ExecStop must keep the device, ExecStart must recover it
kill -KILL "$SVC_PID"
wait_pid_exit "$SVC_PID" 30 || fail "the daemon survived SIGKILL"
wait "$SVC_PID" 2>/dev/null || true
bg_forget "$SVC_PID"
wait_state 31 QUIESCED 30
# shellcheck disable=SC2086
$stop_cmd >"$T_WORK/stop.out" 2>&1 || fail "ExecStop after the crash failed: $(cat "$T_WORK/stop.out")"
[ "$(dev_state 31)" = QUIESCED ] || fail "ExecStop after a crash should keep dev 31, it is $(dev_state 31)"
exec_start
log "ExecStart after the crash recovered dev 31 (pid $SVC_PID)"
cmp -n 4M "$T_WORK/pattern" /dev/ublkb31 || fail "data written before the crash is not on dev 31"

# stop: the device goes, ExecStart exits 0
# shellcheck disable=SC2086
$stop_cmd >"$T_WORK/stop.out" 2>&1 || fail "ExecStop failed: $(cat "$T_WORK/stop.out")"
wait_for 10 dev_nodes_gone 31 || fail "dev 31 still there after ExecStop"
wait_pid_exit "$SVC_PID" 30 || fail "ExecStart still running after ExecStop"
rc=0
wait "$SVC_PID" || rc=$?
bg_forget "$SVC_PID"
[ "$rc" -eq 0 ] || fail "ExecStart exited $rc after ExecStop: $(cat "$T_WORK/svc.err")"
grep -q "STOPPING=1" "$T_WORK/notify.log" || fail "no STOPPING=1: $(cat "$T_WORK/notify.log")"
log "ExecStop deleted dev 31, ExecStart exited 0"
