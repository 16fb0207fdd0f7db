# Benchmark (tests/bench/run), not a test: from the QMP device_add to the
# filesystem mounted, for a configured volume with a key file that vaultd
# opens by itself, against a reference script that waits for the device,
# opens it with cryptsetup and mounts it. Same disk image, same keyslot
# (pbkdf2 at 1000 iterations); vaultd is told the volume by its EBS id, and
# the reference runs attach it under another id so that vaultd leaves it
# alone. The moment of mounting is taken by findmnt --poll in both cases.
# Prints "bench: NAME VALUE UNIT".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
ensure_users

ROUNDS=5
ours=vol0be000000000000a1
theirs=vol0be000000000000b2


dev=$(lab_attach bench 256M nvme "$ours")
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --label benchdata --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
lab_detach bench
wait_gone "$dev"

mkdir -p /etc/vaultd/volumes.d /etc/vaultd/keys /mnt/reference
install -m 0600 "$KEY_FILE" /etc/vaultd/keys/bench.key
cat >/etc/vaultd/volumes.d/bench.toml <<TOML
[match]
ebs-volume-id = "vol-${ours#vol}"
[unlock]
key = "keyfile"
key-file = "/etc/vaultd/keys/bench.key"
[mount]
point = "/secure/bench"
TOML
vaultctl reload >/dev/null

# The reference: what a boot script does by hand.
reference() {
    local link=/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_$theirs
    until [[ -e $link ]]; do sleep 0.05; done
    cryptsetup open --key-file "$KEY_FILE" "$link" reference
    mount /dev/mapper/reference /mnt/reference
}

# Milliseconds from now until @1 is mounted (findmnt waits on the kernel's
# mount table), with @2... run meanwhile.
time_until_mounted() {
    local point=$1 started stamp
    shift
    (findmnt --poll=mount --first-only --mountpoint "$point" >/dev/null && now_ms >stamp) &
    local watcher=$!
    sleep 0.2  # findmnt has its poll in place
    started=$(now_ms)
    "$@" >/dev/null
    wait "$watcher"
    echo $(($(<stamp) - started))
}

vaultd_times=()
reference_times=()
for ((i = 0; i < ROUNDS; i++)); do
    vaultd_times+=("$(time_until_mounted /secure/bench lab_attach bench 256M nvme "$ours" 2>/dev/null)")
    dev=$(lab__disk_with_serial nvme "$ours")
    vaultctl lock "$dev" >/dev/null
    lab_detach bench 2>/dev/null
    wait_gone "$dev"

    reference &
    script=$!
    reference_times+=("$(time_until_mounted /mnt/reference lab_attach bench 256M nvme "$theirs" 2>/dev/null)")
    wait "$script"
    umount /mnt/reference
    cryptsetup close reference
    lab_detach bench 2>/dev/null
done

echo "vaultd: ${vaultd_times[*]} ms; reference: ${reference_times[*]} ms"
v=$(median "${vaultd_times[@]}")
r=$(median "${reference_times[@]}")
echo "bench: attach-vaultd $v ms"
echo "bench: attach-reference $r ms"
echo "bench: attach-ratio $(python3 -c "print(round($v / $r, 2))") x"
