# Header backups: Format keeps one at once in /var/lib/vaultd/headers (root
# only), listed by `vaultctl header list` with the device it came from;
# `vaultctl header backup` writes another to a new file of the caller's.
# Either brings the volume back after both copies of its header are
# destroyed: the data then reads back with its checksum. A backup is never
# written over an existing file.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach hdr 256M virtio)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
uuid=$(volume_field "$dev" luksUuid)
kept=/var/lib/vaultd/headers/$uuid.img

vaultctl header list
check "format kept a backup named by the LUKS UUID" test -f "$kept"
check "only root may read it" test "$(stat -c %a "$kept")" = 600
check "in a directory only root may enter" test "$(stat -c %a /var/lib/vaultd/headers)" = 700
check "vaultctl header list shows it with its device" \
    bash -c "vaultctl header list | grep -qE '^$uuid +/dev/$dev +'"
check "the kept backup is a LUKS2 header with that UUID" \
    test "$(cryptsetup luksUUID "$kept")" = "$uuid"

vaultctl header backup "$dev" mine.header
check "header backup wrote the caller's file, mode 0600" test "$(stat -c %a mine.header)" = 600
check "it is a LUKS2 header with the volume's UUID" test "$(cryptsetup luksUUID mine.header)" = "$uuid"
check "its size is the header's, as vaultctl --json reports it" \
    test "$(vaultctl --json header list | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["bytes"])')" = "$(stat -c %s mine.header)"
touch taken.header
status=0
vaultctl header backup "$dev" taken.header 2>err.txt || status=$?
cat err.txt
check "an existing file is never written over" test "$status" -ne 0 -a ! -s taken.header

vaultctl unlock "$dev" --name hdr --mount --key-file "$KEY_FILE" >/dev/null
head -c 8M /dev/urandom >/media/vault/hdr/data.bin
sum=$(sha256sum </media/vault/hdr/data.bin)
vaultctl lock "$dev" >/dev/null

# Both binary headers (primary at 0, secondary at 16 KiB) destroyed.
dd if=/dev/zero of="/dev/$dev" bs=32K count=1 conv=fsync status=none
expect_error NotLuks vaultctl --json unlock "$dev" --name hdr --key-file "$KEY_FILE"
# The restore itself is the administrator's, with cryptsetup, until vaultd has one.
cryptsetup luksHeaderRestore --batch-mode --header-backup-file "$kept" "/dev/$dev"
wait_state "$dev" locked
vaultctl unlock "$dev" --name hdr --mount --key-file "$KEY_FILE" >/dev/null
check "restored from the kept backup, the data reads back with its checksum" \
    test "$(sha256sum </media/vault/hdr/data.bin)" = "$sum"
vaultctl lock "$dev" >/dev/null

dd if=/dev/zero of="/dev/$dev" bs=32K count=1 conv=fsync status=none
cryptsetup luksHeaderRestore --batch-mode --header-backup-file mine.header "/dev/$dev"
wait_state "$dev" locked
vaultctl unlock "$dev" --name hdr --mount --key-file "$KEY_FILE" >/dev/null
check "and from the caller's backup too" test "$(sha256sum </media/vault/hdr/data.bin)" = "$sum"
vaultctl lock "$dev" >/dev/null
lab_detach hdr
