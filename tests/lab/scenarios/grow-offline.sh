# Growing what is not mounted, and what cannot grow: an ext4 volume that is
# unlocked but not mounted grows offline; unmounted xfs and btrfs volumes are
# mounted for the call where only root can look, grown, and unmounted again; a
# locked volume is refused (unlocking opens it at its full size); a device
# smaller than its mapping is refused with WouldShrink and nothing changes.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

superblock_bytes() {
    case $1 in
    ext4) dumpe2fs -h "$2" 2>/dev/null |
        awk -F: '/^Block count/ { c = $2 } /^Block size/ { s = $2 } END { print c * s }' ;;
    xfs) xfs_db -r -c 'sb 0' -c 'print dblocks blocksize' "$2" |
        awk '{ v[NR] = $3 } END { print v[1] * v[2] }' ;;
    btrfs) btrfs inspect-internal dump-super "$2" | awk '$1 == "total_bytes" { print $2 }' ;;
    esac
}

for fs in ext4 xfs btrfs; do
    dev=$(lab_attach "off-$fs" 1G virtio)
    wait_state "$dev" empty
    vaultctl format "$dev" --fs "$fs" --key-file "$KEY_FILE" >/dev/null
    wait_state "$dev" locked
    vaultctl unlock "$dev" --name "off-$fs" --mount --key-file "$KEY_FILE" >/dev/null
    head -c 1M /dev/urandom >"/media/vault/off-$fs/kept"
    sum=$(sha256sum <"/media/vault/off-$fs/kept")
    vaultctl unmount "$dev" >/dev/null
    wait_state "$dev" unlocked
    before=$(superblock_bytes "$fs" "/dev/mapper/off-$fs")

    lab_grow "off-$fs" 2G
    out=$(vaultctl grow "$dev")
    echo "$out"
    after=$(superblock_bytes "$fs" "/dev/mapper/off-$fs")
    echo "$fs: superblock $before -> $after bytes"
    check "$fs: unmounted, it grows: the superblock spans the whole mapping" \
        test "$after" -ge $(((2 << 30) - (17 << 20)))
    check "$fs: the reply names the filesystem's growth" \
        grep -q "filesystem 1008.0M -> 2.0G" <<<"$out"
    check "$fs: it is left unmounted" volume_is "$dev" unlocked
    check "$fs: no private mount is left behind" bash -c '! grep -q " /run/vaultd/grow" /proc/self/mountinfo'
    vaultctl mount "$dev" >/dev/null
    check "$fs: mounted again, the file reads back" \
        test "$(sha256sum <"/media/vault/off-$fs/kept")" = "$sum"
    check "$fs: and the filesystem offers about 2 GiB" \
        test "$(fs_size "/media/vault/off-$fs")" -ge $((1900 << 20))
    vaultctl lock "$dev" >/dev/null
    lab_detach "off-$fs"
done

# Locked: nothing to grow until it is opened, which opens it whole.
dev=$(lab_attach off-locked 256M virtio)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
lab_grow off-locked 512M
expect_error WrongState vaultctl --json grow "$dev"
vaultctl unlock "$dev" --name off-locked --key-file "$KEY_FILE" >/dev/null
check "unlocked after the disk grew, the mapping fills it" \
    test "$(blockdev --getsize64 /dev/mapper/off-locked)" = $(((512 - 16) << 20))
vaultctl lock "$dev" >/dev/null
lab_detach off-locked

# Smaller: a loop device shrunk under its mapping.
truncate -s 512M shrink.img
loop=$(losetup --find --show shrink.img)
loopdev=${loop#/dev/}
wait_state "$loopdev" empty
vaultctl format "$loopdev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$loopdev" locked
vaultctl unlock "$loopdev" --name shrunk --key-file "$KEY_FILE" >/dev/null
mapping_before=$(blockdev --getsize64 /dev/mapper/shrunk)
truncate -s 256M shrink.img
losetup --set-capacity "$loop"
check "the loop device is 256 MiB now" test "$(blockdev --getsize64 "$loop")" = $((256 << 20))
expect_error WouldShrink vaultctl --json grow "$loopdev"
check "the mapping is as it was" test "$(blockdev --getsize64 /dev/mapper/shrunk)" = "$mapping_before"
vaultctl lock "$loopdev" >/dev/null
losetup --detach "$loop"
check "no mapping is left" no_crypt_mapping
