# A disk that fails under a mounted volume: a SCSI disk set offline (its
# driver gives it up, as after a failed path or a dead controller). The
# application's reads and writes fail with EIO; vaultd keeps the volume
# listed, mounted, with Failing saying why; everything that writes is
# refused with DeviceFailing; lock still works; the header is unchanged.
# When the disk comes back the volume unlocks and its data reads back.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach failing 128M scsi)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
size=$(blockdev --getsize64 "/dev/$dev")
header_sum() {
    head -c $((16 << 20)) "/dev/$dev" | sha256sum
}
header_before=$(header_sum)

vaultctl unlock "$dev" --name failing --mount /mnt/failing --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" mounted
head -c 8M /dev/urandom >/mnt/failing/kept
sum_before=$(sha256sum </mnt/failing/kept)
sync
check "not failing while the disk answers" test -z "$(volume_field "$dev" failing)"

# The page cache would answer reads the disk no longer can.
echo 3 >/proc/sys/vm/drop_caches
echo offline >"/sys/block/$dev/device/state"

failing_says() {
    [[ $(volume_field "$dev" failing) == *"$1"* ]]
}
check "vaultd notices within its look every few seconds" wait_for 30 failing_says "its disk is offline"
vaultctl status "$dev"
check "still listed as mounted, where it is" volume_is "$dev" mounted
check "its mount point is still reported" test "$(volume_field "$dev" mountPoint)" = /mnt/failing
check "the header is reported unreadable" test "$(volume_field "$dev" headerHealth)" = unreadable
check "the list marks it failing" grep -q "mounted,failing" <<<"$(vaultctl list)"

out=$(cat /mnt/failing/kept 2>&1 >/dev/null) && fail "a read of the failed disk succeeded"
echo "read: $out"
check "the application's read fails with an I/O error" grep -q "Input/output error" <<<"$out"
out=$(dd if=/dev/zero of=/mnt/failing/new bs=64K count=16 conv=fsync 2>&1) &&
    fail "a write to the failed disk succeeded"
echo "write: $out"
# ext4 may have given up on its journal after the failed read: then the
# filesystem is read-only, and says so.
check "the application's write fails with an I/O error" \
    grep -qE "Input/output error|Read-only file system" <<<"$out"

expect_error DeviceFailing vaultctl --json grow "$dev"
expect_error DeviceFailing vaultctl --json tune "$dev" --discard on
expect_error DeviceFailing vaultctl --json header repair "$dev"
expect_error DeviceFailing vaultctl --json format "$dev" --fs ext4 --key-file "$KEY_FILE" \
    --force "/dev/$dev:$size"

# Lock still works: nothing is written to a disk that is gone, the
# mapping and its key go.
check "lock works on the failed disk" vaultctl lock "$dev"
check "no mapping is left" no_crypt_mapping
check "no key is left in the kernel" no_volume_key_in_kernel
check "reported locked, and still failing" wait_state "$dev" locked
check "failing still says why" failing_says "its disk is offline"
expect_error DeviceFailing vaultctl --json unlock "$dev" --name failing --key-file "$KEY_FILE"

# The disk comes back: nothing tells vaultd, a udev change event makes it look.
echo running >"/sys/block/$dev/device/state"
check "the header is what format wrote: vaultd wrote nothing" test "$(header_sum)" = "$header_before"
udevadm trigger --action=change "/dev/$dev"
not_failing() {
    [[ -z $(volume_field "$dev" failing) ]]
}
check "no longer failing once it answers" wait_for 30 not_failing
check "the header is valid again" test "$(volume_field "$dev" headerHealth)" = valid
vaultctl unlock "$dev" --name failing --mount /mnt/failing --key-file "$KEY_FILE" >/dev/null
check "the data written before the failure reads back" \
    test "$(sha256sum </mnt/failing/kept)" = "$sum_before"
vaultctl lock "$dev" >/dev/null
lab_detach failing
echo "failing: passed"
