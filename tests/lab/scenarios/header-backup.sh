# Header backups and health: Format keeps a backup at once in
# /var/lib/vaultd/headers (root only), listed by `vaultctl header list` with
# the device it came from; status reports a destroyed primary header (and
# writes nothing);
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

check "a whole header reports valid" test "$(volume_field "$dev" headerHealth)" = valid
header_is() {
    [[ $(volume_field "$1" headerHealth) == "$2" ]]
}

# The primary destroyed: the secondary still opens it, and status says so.
dd if=/dev/zero of="/dev/$dev" bs=4K count=1 conv=fsync status=none
wait_for 30 header_is "$dev" primary-damaged
vaultctl status "$dev" | grep Header
check "status names the damage and the remedy" \
    bash -c "vaultctl status $dev | grep -q '^Header: primary-damaged (.*take a header backup now)'"
vaultctl unlock "$dev" --name hdr --key-file "$KEY_FILE" >/dev/null
check "it still unlocks, from the secondary" volume_is "$dev" unlocked
vaultctl lock "$dev" >/dev/null
check "looking wrote nothing: the primary is still zero" \
    test "$(head -c 4096 "/dev/$dev" | tr -d '\0' | wc -c)" = 0

# Both binary headers (primary at 0, secondary at 16 KiB) destroyed.
dd if=/dev/zero of="/dev/$dev" bs=32K count=1 conv=fsync status=none
expect_error NotLuks vaultctl --json unlock "$dev" --name hdr --key-file "$KEY_FILE"
wait_for 30 header_is "$dev" none
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
