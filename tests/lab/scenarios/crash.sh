# vaultd killed (SIGKILL) at random moments during format, unlock, mount,
# grow, lock and header restore: CRASH_ROUNDS rounds of the six (9, 54
# trials, by default; crash-quick, in the test list, runs 3). The kill comes a random time after the client starts, anywhere
# from before vaultd hears of the call to after it answered. After each
# kill vaultd starts again and must report what the kernel has (every
# dm-crypt mapping and its mounts as some volume's, each volume's state as
# sysfs and mountinfo show it); then the volume either did what was asked
# or unlocks with its passphrase, and its data reads back with its
# checksum. An interrupted format leaves a header, or none, that format
# redoes. Then SIGTERM with three volumes mounted, one of them in use: the
# two free ones are locked, the busy one is logged and left whole, mounted,
# and vaultd exits within its limit.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

ROUNDS=${CRASH_ROUNDS:-9}

# vaultd's answer against the kernel's: every dm-crypt mapping is some
# volume's, every mount of one is that volume's, and each volume's state and
# mapping are what sysfs says. Prints what disagrees.
truthful() {
    vaultctl --json list >list.json 2>/dev/null || return 1
    python3 - list.json <<'PY'
import json, os, sys
volumes = json.load(open(sys.argv[1]))
problems = []
crypt = {}  # dm name -> dm-N
for dm in os.listdir("/sys/block"):
    if not dm.startswith("dm-"):
        continue
    uuid = open(f"/sys/block/{dm}/dm/uuid").read().strip()
    if uuid.startswith("CRYPT-"):
        crypt[open(f"/sys/block/{dm}/dm/name").read().strip()] = dm
mounts = {}  # dm-N -> mount points
for line in open("/proc/self/mountinfo"):
    major_minor = line.split()[2]
    for name, dm in crypt.items():
        if open(f"/sys/block/{dm}/dev").read().strip() == major_minor:
            mounts.setdefault(dm, []).append(line.split()[4])
reported = {v["mappingName"]: v for v in volumes if v["mappingName"]}
for name, dm in crypt.items():
    v = reported.get(name)
    if not v:
        problems.append(f"mapping {name} ({dm}) is no volume's")
        continue
    want = "mounted" if dm in mounts else "unlocked"
    if v["state"] != want:
        problems.append(f"{v['device']}: state {v['state']}, the kernel says {want}")
    if dm in mounts and v["mountPoint"] not in mounts[dm]:
        problems.append(f"{v['device']}: mount point {v['mountPoint']!r}, mounted at {mounts[dm]}")
for name, v in reported.items():
    if name not in crypt:
        problems.append(f"{v['device']}: reports mapping {name}, which does not exist")
for v in volumes:
    kernel = v["kernelName"]
    holders = os.listdir(f"/sys/block/{kernel}/holders") if os.path.isdir(f"/sys/block/{kernel}/holders") else []
    if not holders and v["state"] in ("unlocked", "mounted"):
        problems.append(f"{v['device']}: state {v['state']}, but nothing holds the device")
for p in problems:
    print("disagrees:", p)
sys.exit(1 if problems else 0)
PY
}
# After a kill: no format mapping left (an mkfs started before the kill may
# still be writing through it; vaultd closes it when the mkfs is done), and
# vaultd's answer is the kernel's.
settled() {
    ! ls /dev/mapper/vaultd-format-* >/dev/null 2>&1 && truthful >/dev/null
}

name_gone() {
    ! vaultd_has_name
}
kill_vaultd() {
    local pid
    pid=$(pgrep -x vaultd) || return 0
    kill -KILL "$pid"
    wait_for 30 bash -c "! kill -0 $pid 2>/dev/null"
    wait_for 30 name_gone
}

# Sleeps $1 ms: the moment of the kill is what each trial varies, picked at
# random; nothing waits on it.
pause_ms() {
    sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"
}

truncate -s 256M crash.img
truncate -s 96M crash-format.img
loop=$(losetup -f --show crash.img)
dev=${loop#/dev/}
floop=$(losetup -f --show crash-format.img)
fdev=${floop#/dev/}
wait_state "$dev" empty
wait_state "$fdev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
vaultctl header backup "$dev" crash.header >/dev/null
vaultctl unlock "$dev" --name crash --mount --key-file "$KEY_FILE" >/dev/null
head -c 4M /dev/urandom >/media/vault/crash/data.bin
sum=$(sha256sum </media/vault/crash/data.bin)
sync
vaultctl lock crash >/dev/null

state() {
    volume_field "$dev" state
}
growable() {
    (($(volume_field "$dev" growableBy) > 0))
}
# Brings the volume to mounted from whatever state the trial left, and reads
# its data back.
mounted_with_data() {
    case $(state) in
        locked) vaultctl unlock "$dev" --name crash --mount --key-file "$KEY_FILE" >/dev/null ;;
        unlocked) vaultctl mount crash >/dev/null ;;
        mounted) ;;
        *) fail "$dev is $(state) after the kill" ;;
    esac
    local at
    at=$(volume_field "$dev" mountPoint)
    [[ $(sha256sum <"$at/data.bin") == "$sum" ]] || fail "the data does not read back after the kill"
}
to_state() {
    case $1 in
        locked) [[ $(state) == locked ]] || vaultctl lock crash >/dev/null ;;
        unlocked)
            [[ $(state) != mounted ]] || vaultctl unmount crash >/dev/null
            [[ $(state) == unlocked ]] ||
                vaultctl unlock "$dev" --name crash --key-file "$KEY_FILE" >/dev/null
            ;;
        mounted) mounted_with_data ;;
    esac
    wait_state "$dev" "$1"
}

declare -A completed interrupted
fsize=$(blockdev --getsize64 "$floop")

# trial OP MAX_MS: OP's command runs and vaultd is killed 0 to MAX_MS ms
# after it started; then vaultd starts again, must tell the truth, and the
# volume must come back.
trial() {
    local op=$1 max=$2 cmd=() client delay outcome
    case $op in
        unlock)
            to_state locked
            cmd=(vaultctl unlock "$dev" --name crash --mount --key-file "$KEY_FILE")
            ;;
        mount)
            to_state unlocked
            cmd=(vaultctl mount crash)
            ;;
        lock)
            to_state mounted
            cmd=(vaultctl lock crash)
            ;;
        grow)
            to_state mounted
            truncate -s +8M crash.img
            losetup -c "$loop"
            wait_for 30 growable
            cmd=(vaultctl grow crash --key-file "$KEY_FILE")
            ;;
        header-restore)
            to_state locked
            cmd=(vaultctl header restore "$dev" crash.header)
            ;;
        format)
            cmd=(vaultctl format "$fdev" --fs ext4 --key-file "$KEY_FILE" --force "$floop:$fsize")
            ;;
    esac
    delay=$((SRANDOM % max))
    "${cmd[@]}" >trial.out 2>&1 &
    client=$!
    pause_ms "$delay"
    kill_vaultd
    if wait "$client"; then
        outcome=completed
        completed[$op]=$((${completed[$op]:-0} + 1))
    else
        outcome=interrupted
        interrupted[$op]=$((${interrupted[$op]:-0} + 1))
    fi
    restart_vaultd
    wait_for 60 settled || { truthful || true; fail "after a kill during $op, vaultd disagrees with the kernel"; }

    case $op in
        format)
            local fstate
            fstate=$(volume_field "$fdev" state)
            [[ $fstate == empty || $fstate == locked ]] ||
                fail "after a kill during format, $fdev is $fstate"
            if [[ $outcome == interrupted ]]; then
                # Whatever it left, format does again.
                vaultctl format "$fdev" --fs ext4 --key-file "$KEY_FILE" --force "$floop:$fsize" >/dev/null
            fi
            vaultctl unlock "$fdev" --name crashfmt --mount --key-file "$KEY_FILE" >/dev/null
            wait_state "$fdev" mounted
            vaultctl lock crashfmt >/dev/null
            ;;
        grow)
            mounted_with_data
            # Whatever the kill left, grow finishes it.
            vaultctl grow crash --key-file "$KEY_FILE" >/dev/null
            [[ $(volume_field "$dev" growableBy) == 0 ]] || fail "grow did not finish after the kill"
            ;;
        *)
            mounted_with_data
            ;;
    esac
    echo "trial: $op killed at $delay ms: $outcome; vaultd tells the truth and the volume came back"
}

for ((round = 0; round < ROUNDS; round++)); do
    trial unlock 800
    trial mount 450
    trial lock 450
    trial grow 800
    trial header-restore 500
    trial format 2500
done

total=0
for op in unlock mount lock grow header-restore format; do
    c=${completed[$op]:-0} i=${interrupted[$op]:-0}
    total=$((total + c + i))
    echo "crash: $op: $((c + i)) trials, $c done before the kill, $i interrupted; all came back"
done
check "$((6 * ROUNDS)) trials" test "$total" -eq $((6 * ROUNDS))

# SIGTERM with three volumes mounted, one in use.
to_state mounted
truncate -s 64M crash-b.img crash-c.img
bloop=$(losetup -f --show crash-b.img)
cloop=$(losetup -f --show crash-c.img)
for l in "$bloop" "$cloop"; do
    wait_state "${l#/dev/}" empty
    vaultctl format "${l#/dev/}" --fs ext4 --key-file "$KEY_FILE" >/dev/null
    wait_state "${l#/dev/}" locked
done
vaultctl unlock "${bloop#/dev/}" --name crashb --mount --key-file "$KEY_FILE" >/dev/null
vaultctl unlock "${cloop#/dev/}" --name crashc --mount --key-file "$KEY_FILE" >/dev/null
(cd /media/vault/crashc && exec sleep 600) &
holder=$!
wait_for 10 bash -c "[[ \$(readlink /proc/$holder/cwd) == /media/vault/crashc ]]"
pid=$(pgrep -x vaultd)
stopped_at=$(now_ms)
kill -TERM "$pid"
wait_for 40 bash -c "! kill -0 $pid 2>/dev/null"
echo "sigterm: vaultd exited $(($(now_ms) - stopped_at)) ms after SIGTERM"
check "the free volumes are locked" bash -c "[[ ! -e /dev/mapper/crash && ! -e /dev/mapper/crashb ]]"
check "the busy one stays mounted" findmnt /media/vault/crashc
check "and vaultd said why" grep -q "stopping: '$cloop' stays unlocked" "$LAB_VAULTD_LOG"
kill "$holder"
wait "$holder" 2>/dev/null || true
restart_vaultd
wait_for 30 settled
check "started again, vaultd reports it mounted" volume_is "${cloop#/dev/}" mounted
vaultctl lock crashc >/dev/null
check "and locks it" test ! -e /dev/mapper/crashc
to_state mounted
vaultctl lock crash >/dev/null
losetup -d "$loop" "$floop" "$bloop" "$cloop"
