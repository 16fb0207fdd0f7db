# Restore and repair through vaultd. A damaged primary is repaired from the
# secondary after a backup; a volume with both binary headers destroyed
# comes back from a backup with `vaultctl header restore` (which asks for
# the device's identity when nothing on it names the volume), and its data
# reads back with its checksum. Restore refuses an unlocked volume and a
# backup of another volume (naming both UUIDs), and then writes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

header_is() {
    [[ $(volume_field "$1" headerHealth) == "$2" ]]
}
start16m() {
    head -c $((16 << 20)) "/dev/$1" | sha256sum
}

dev=$(lab_attach restore 256M virtio)
other=$(lab_attach other 256M virtio)
wait_state "$dev" empty
wait_state "$other" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
vaultctl format "$other" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
wait_state "$other" locked
uuid=$(volume_field "$dev" luksUuid)
vaultctl header backup "$dev" mine.header
vaultctl header backup "$other" other.header

vaultctl unlock "$dev" --name restore --mount --key-file "$KEY_FILE" >/dev/null
head -c 8M /dev/urandom >/media/vault/restore/data.bin
sum=$(sha256sum </media/vault/restore/data.bin)
expect_error WrongState vaultctl --json header restore "$dev" mine.header
vaultctl lock "$dev" >/dev/null

# The primary destroyed: repair, after a backup, from the secondary.
dd if=/dev/zero of="/dev/$dev" bs=4K count=1 conv=fsync status=none
wait_for 30 header_is "$dev" primary-damaged
vaultctl header repair "$dev"
wait_for 30 header_is "$dev" valid
check "the primary is back" luks_magic "$dev"
expect_error WrongState vaultctl --json header repair "$dev"

# A backup of another volume is refused, naming both UUIDs; nothing written.
before=$(start16m "$dev")
out=$(vaultctl --json header restore "$dev" other.header 2>&1) && status=0 || status=$?
echo "$out"
check "another volume's backup is refused" test "$status" -ne 0
check "as HeaderMismatch" grep -q 'org.vaultd.Vault1.Error.HeaderMismatch' <<<"$out"
check "naming both UUIDs" bash -c "grep -q '$uuid' <<<'$out' && grep -q '$(volume_field "$other" luksUuid)' <<<'$out'"
check "and nothing was written" test "$(start16m "$dev")" = "$before"

# Both binary headers destroyed: nothing names the volume, so the restore
# wants the device's identity.
dd if=/dev/zero of="/dev/$dev" bs=32K count=1 conv=fsync status=none
wait_for 30 header_is "$dev" none
expect_error HeaderMismatch vaultctl --json header restore "$dev" mine.header
size=$(blockdev --getsize64 "/dev/$dev")
vaultctl header restore "$dev" mine.header --force "/dev/$dev:$size"
wait_state "$dev" locked
check "the header is whole again" header_is "$dev" valid
vaultctl unlock "$dev" --name restore --mount --key-file "$KEY_FILE" >/dev/null
check "restored, the data reads back with its checksum" \
    test "$(sha256sum </media/vault/restore/data.bin)" = "$sum"
vaultctl lock "$dev" >/dev/null

# The primary gone but the secondary still naming the volume: the backup
# matches, no confirmation needed.
dd if=/dev/zero of="/dev/$dev" bs=4K count=1 conv=fsync status=none
wait_for 30 header_is "$dev" primary-damaged
vaultctl header restore "$dev" mine.header
wait_for 30 header_is "$dev" valid
vaultctl unlock "$dev" --name restore --mount --key-file "$KEY_FILE" >/dev/null
check "and again the data reads back" test "$(sha256sum </media/vault/restore/data.bin)" = "$sum"
vaultctl lock "$dev" >/dev/null
