# A device that holds a filesystem, a partition table or a LUKS header is not
# formatted unless the caller confirms with its current node and size.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach full 256M)
wait_state "$dev" empty
mkfs.ext4 -q -L precious "/dev/$dev"
wait_state "$dev" data
before=$(fingerprint "$dev")
size=$(blockdev --getsize64 "/dev/$dev")

expect_error NotEmpty vaultctl --json format "$dev" --key-file "$KEY_FILE"
expect_error NotEmpty vaultctl --json format "$dev" --force "/dev/$dev:$((size - 512))" \
    --key-file "$KEY_FILE"
expect_error NotEmpty vaultctl --json format "$dev" --force "/dev/vdz:$size" --key-file "$KEY_FILE"
check "the ext4 filesystem is untouched" test "$before" = "$(fingerprint "$dev")"
check "blkid still sees ext4" test "$(blkid -p -o value -s TYPE "/dev/$dev")" = ext4

vaultctl format "$dev" --force "/dev/$dev:$size" --key-file "$KEY_FILE"
check "with the right confirmation it is LUKS now" luks_magic "$dev"
wait_state "$dev" locked
expect_error NotEmpty vaultctl --json format "$dev" --key-file "$KEY_FILE"

parts=$(lab_attach parts 64M)
wait_state "$parts" empty
printf 'label: gpt\n,\n' | sfdisk -q "/dev/$parts"
wait_state "$parts" data
before=$(fingerprint "$parts")
expect_error NotEmpty vaultctl --json format "$parts" --key-file "$KEY_FILE"
check "the partition table is untouched" test "$before" = "$(fingerprint "$parts")"
