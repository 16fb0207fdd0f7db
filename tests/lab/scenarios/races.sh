# Callers at the same moment. Two clients unlock, format, or lock the same
# volume at once: exactly one succeeds, the other gets Busy, and the volume
# is whole (it unlocks, its data reads back). Four different volumes
# unlocked at once all open. A client killed in the middle of an unlock
# with --mount, or of a format, does not leave the operation half done:
# vaultd finishes it (mounted; a volume that unlocks), and nothing is left
# for the next caller to trip on.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

# A keyslot that costs about a second to open (argon2id), made with the
# cryptsetup tool, so that two calls on one volume overlap for sure.
slow_volume() {
    local dev=$1
    cryptsetup luksFormat --batch-mode --type luks2 --pbkdf argon2id --iter-time 1000 \
        --pbkdf-memory 65536 --pbkdf-parallel 1 --key-file "$KEY_FILE" "/dev/$dev"
    cryptsetup open --key-file "$KEY_FILE" "/dev/$dev" "prep-$dev"
    mkfs.ext4 -q "/dev/mapper/prep-$dev"
    mount "/dev/mapper/prep-$dev" /mnt
    echo "data of $dev" >/mnt/marker
    umount /mnt
    cryptsetup close "prep-$dev"
    wait_state "$dev" locked
}
marker_reads_back() {
    [[ $(cat "$(volume_field "$1" mountPoint)/marker") == "data of $1" ]]
}

# together OUT1 OUT2 -- CMD1... -- CMD2...: starts both at once and waits
# for both; their exit statuses go to $first_status and $second_status.
together() {
    local out1=$1 out2=$2 a=() b=()
    shift 2
    [[ $1 == -- ]] && shift
    while [[ $1 != -- ]]; do a+=("$1"); shift; done
    shift
    b=("$@")
    "${a[@]}" >"$out1" 2>&1 &
    local p1=$!
    "${b[@]}" >"$out2" 2>&1 &
    local p2=$!
    first_status=0 second_status=0
    wait "$p1" || first_status=$?
    wait "$p2" || second_status=$?
}
# Exactly one of the two succeeded and the other was refused as Busy (the
# calls give --json, whose error names it).
one_won() {
    local label=$1 loser
    if ((first_status == 0 && second_status != 0)); then
        loser=b.out
    elif ((second_status == 0 && first_status != 0)); then
        loser=a.out
    else
        cat a.out b.out >&2
        fail "$label: expected one success and one Busy, got statuses $first_status and $second_status"
    fi
    grep -q 'org.vaultd.Vault1.Error.Busy' "$loser" ||
        { cat "$loser" >&2; fail "$label: the other call failed, but not as Busy"; }
    echo "ok: $label: one succeeded, the other got Busy"
}

dev=$(lab_attach race 128M virtio)
wait_state "$dev" empty
slow_volume "$dev"

# Two unlocks of one volume.
together a.out b.out -- vaultctl --json unlock "$dev" --name racea --mount --key-file "$KEY_FILE" \
    -- vaultctl --json unlock "$dev" --name raceb --mount --key-file "$KEY_FILE"
one_won "two unlocks"
wait_state "$dev" mounted
check "one mapping only" test "$(ls /dev/mapper | grep -c '^race[ab]$')" -eq 1
check "the data reads back" marker_reads_back "$dev"

# Two locks of one volume, mounted with much to write back.
head -c 96M /dev/urandom >"$(volume_field "$dev" mountPoint)/bulk"
name=$(volume_field "$dev" mappingName)
together a.out b.out -- vaultctl --json lock "$name" -- vaultctl --json lock "$name"
one_won "two locks"
wait_state "$dev" locked
check "the mapping is gone" test ! -e "/dev/mapper/$name"

# Two formats of one disk.
fmt=$(lab_attach raceformat 128M virtio)
wait_state "$fmt" empty
together a.out b.out -- vaultctl --json format "$fmt" --fs ext4 --key-file "$KEY_FILE" \
    -- vaultctl --json format "$fmt" --fs ext4 --key-file "$KEY_FILE"
one_won "two formats"
wait_state "$fmt" locked
vaultctl unlock "$fmt" --name raceformat --mount --key-file "$KEY_FILE" >/dev/null
check "the formatted volume mounts" volume_is "$fmt" mounted
vaultctl lock raceformat >/dev/null

# Four different volumes at once all open.
devs=()
for id in r1 r2 r3 r4; do
    d=$(lab_attach "four-$id" 64M virtio)
    wait_state "$d" empty
    vaultctl format "$d" --fs ext4 --key-file "$KEY_FILE" >/dev/null
    wait_state "$d" locked
    devs+=("$d")
done
pids=()
for d in "${devs[@]}"; do
    vaultctl unlock "$d" --name "four-$d" --mount --key-file "$KEY_FILE" >"four-$d.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || fail "an unlock of four at once failed: $(cat four-*.out)"
done
for d in "${devs[@]}"; do
    check "$d is mounted" volume_is "$d" mounted
    vaultctl lock "four-$d" >/dev/null
done

# A client killed in the middle of an unlock that mounts, while vaultd
# derives the key (its job is there): vaultd finishes.
a_job() {
    busctl --system --list tree org.vaultd.Vault1 | grep -q '^/org/vaultd/Vault1/job/'
}
vaultctl unlock "$dev" --name racekill --mount --key-file "$KEY_FILE" >/dev/null 2>&1 &
client=$!
wait_for 10 a_job
kill -KILL "$client"
wait "$client" 2>/dev/null || true
wait_state "$dev" mounted
check "the killed client's unlock was finished: mounted, its data reads back" marker_reads_back "$dev"
vaultctl lock racekill >/dev/null

# A client killed in the middle of a format, while mkfs runs through the
# format's mapping: vaultd finishes it (a new header, a filesystem).
before=$(volume_field "$fmt" luksUuid)
size=$(blockdev --getsize64 "/dev/$fmt")
vaultctl format "$fmt" --fs ext4 --key-file "$KEY_FILE" --force "/dev/$fmt:$size" >/dev/null 2>&1 &
client=$!
wait_for 30 test -e "/dev/mapper/vaultd-format-$fmt"
kill -KILL "$client"
wait "$client" 2>/dev/null || true
wait_for 60 test ! -e "/dev/mapper/vaultd-format-$fmt"
wait_state "$fmt" locked
check "the format whose client was killed wrote a new header" \
    test "$(volume_field "$fmt" luksUuid)" != "$before"
vaultctl unlock "$fmt" --name raceformat --mount --key-file "$KEY_FILE" >/dev/null
check "and a filesystem: the volume mounts" volume_is "$fmt" mounted
vaultctl lock raceformat >/dev/null
