#!/bin/bash
# Proves `ublk add --config FILE` and `ublk del --config FILE`:
# - a [device] file (loop, file=, queues=2, depth=64, id=, recovery=reissue,
#   bpf=auto) gives a LIVE device with that id and geometry, the recovery
#   flags, and a state file whose add_args hold the expanded options;
#   options after --config override the file's (-q 1);
# - `ublk del --config FILE` deletes the device the file's id names;
# - every bad file is refused by add (and by start) without leaving anything
#   behind, with an error naming the file, the line, [device] and the key:
#   unknown key, key given twice, unknown section, key outside the section,
#   missing target, missing file, bad numbers, bad words, relative and
#   missing backing files, a bad bpf mode, a key the target does not use,
#   no such config file;
# - bpf = on gives a device served in BPF (where the kernel can).
. "$(dirname "$0")/lib.sh"

cfg=$T_WORK/dev.ini
make_backing "$T_WORK/backing" 32M
cat >"$cfg" <<INI
; a test device
[device]
target = loop
file = $T_WORK/backing
queues = 2
depth = 64
id = 21
recovery = reissue
bpf = auto
INI

ublk_add --config "$cfg"
[ "$DEV_ID" = 21 ] || fail "the config says id = 21, the device is $DEV_ID"
check_geometry 21 2 64 65536
flags=$(dev_flags 21)
grep -qw USER_RECOVERY_REISSUE <<<"$flags" || fail "flags lack USER_RECOVERY_REISSUE: [$flags]"
state=$(cat "${UBLK_RUN_DIR:-/run/ublksrvd}/21.json")
jq -e --arg f "--file=$T_WORK/backing" '.add_args | index($f) != null and index("--queues=2") != null and index("--recovery=reissue") != null and index("--bpf=auto") != null' \
	<<<"$state" >/dev/null || fail "state file add_args: $(jq -c .add_args <<<"$state")"
fio_verify /dev/ublkb21 --size=8M
timeout 60 ublk del --config "$cfg" || fail "'ublk del --config' failed"
wait_for 10 dev_nodes_gone 21 || fail "dev 21 still there after del --config"

# command-line options after the file override it
ublk_add --config "$cfg" -q 1
check_geometry 21 1 64 65536
ublk_del 21

# bad_config DESC LINE KEY: `ublk add --config` on $cfg fails cleanly with
# an error naming "$cfg:LINE:" and KEY (LINE 0: no line number)
bad_config() {
	local desc=$1 line=$2 key=$3 err
	expect_fail "$desc" ublk add --config "$cfg"
	err=$(cat "$T_WORK/.xf.err")
	if [ "$line" != 0 ]; then
		grep -qF -- "$cfg:$line: " <<<"$err" || fail "$desc: error should name $cfg:$line: $err"
	else
		grep -qF -- "$cfg" <<<"$err" || fail "$desc: error should name $cfg: $err"
	fi
	grep -qF -- "$key" <<<"$err" || fail "$desc: error should name '$key': $err"
	expect_fail "$desc (start)" ublk start --config "$cfg"
}

good="[device]
target = loop
file = $T_WORK/backing
id = 22"

printf '%s\nqueue = 2\n' "$good" >"$cfg"
bad_config "unknown key" 5 "[device] queue: unknown key"
printf '%s\ndepth = 64\nDepth = 32\n' "$good" >"$cfg"
bad_config "key given twice" 6 "[device] depth: given twice (first on line 5)"
printf '%s\n[extra]\nx = 1\n' "$good" >"$cfg"
bad_config "unknown section" 5 "unknown section [extra]"
printf 'target = loop\n%s\n' "$good" >"$cfg"
bad_config "key outside the section" 1 "key 'target' outside a section"
printf '[device]\nfile = %s\nid = 22\n' "$T_WORK/backing" >"$cfg"
bad_config "missing target" 1 "missing required key 'target'"
printf '[device]\ntarget = loop\nid = 22\n' >"$cfg"
bad_config "missing file" 1 "missing required key 'file'"
printf '%s\nqueues = 0\n' "$good" >"$cfg"
bad_config "zero queues" 5 "[device] queues = '0': must be 1 to 32"
printf '%s\ndepth = 5000\n' "$good" >"$cfg"
bad_config "depth too large" 5 "[device] depth = '5000': must be 1 to 4096"
printf '%s\ndepth = 64k\n' "$good" >"$cfg"
bad_config "depth not a number" 5 "[device] depth = '64k': not a number"
printf '[device]\ntarget = loop\nfile = %s\nid = 1048576\n' "$T_WORK/backing" >"$cfg"
bad_config "id out of range" 4 "[device] id = '1048576'"
printf '%s\nrecovery = always\n' "$good" >"$cfg"
bad_config "bad recovery mode" 5 "[device] recovery = 'always': must be one of off, requeue, reissue, fail-io"
printf '%s\ndata_mode = fast\n' "$good" >"$cfg"
bad_config "bad data mode" 5 "[device] data_mode = 'fast'"
printf '%s\nbpf = maybe\n' "$good" >"$cfg"
bad_config "bad bpf mode" 5 "[device] bpf = 'maybe': must be one of off, on, auto"
printf '%s\nbuffered_io = perhaps\n' "$good" >"$cfg"
bad_config "bad boolean" 5 "[device] buffered_io = 'perhaps': not a boolean"
printf '[device]\ntarget = loop\nfile = backing\n' >"$cfg"
bad_config "relative backing file" 3 "[device] file = 'backing': must be an absolute path"
printf '[device]\ntarget = loop\nfile = %s/nope\n' "$T_WORK" >"$cfg"
bad_config "missing backing file" 3 "No such file or directory"
printf '[device]\ntarget = null\nfile = %s\n' "$T_WORK/backing" >"$cfg"
bad_config "key the target does not use" 3 "[device] file: not used by the null target"
printf '[device]\ntarget = floppy\n' >"$cfg"
bad_config "unknown target" 2 "[device] target = 'floppy': unknown target"
printf '' >"$cfg"
bad_config "empty file" 0 "no [device] section"
rm "$cfg"
bad_config "no such config file" 0 "cannot open: No such file or directory"

# del/start need the file's id
printf '[device]\ntarget = null\n' >"$cfg"
expect_fail "del --config without id" ublk del --config "$cfg"
grep -q "no id key" "$T_WORK/.xf.err" || fail "del --config without id: $(cat "$T_WORK/.xf.err")"
expect_fail "start without id" ublk start --config "$cfg"
grep -q "needs an id key" "$T_WORK/.xf.err" || fail "start without id: $(cat "$T_WORK/.xf.err")"

# bpf = on in a file serves the device in BPF where the kernel can
if ublk features | grep -q '^bpf fast path: yes'; then
	printf '%s\nbpf = on\n' "$good" >"$cfg"
	ublk_add --config "$cfg"
	[ "$(dev_json "$DEV_ID" | jq -r .io_path)" = bpf ] ||
		fail "bpf = on in $cfg: io path $(dev_json "$DEV_ID" | jq -r .io_path)"
	ublk_del "$DEV_ID"
fi
