# Unlocking what holds no LUKS container is refused by name.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach plain 64M)
wait_state "$dev" empty
expect_error NotLuks vaultctl --json unlock "$dev" --name plain --key-file "$KEY_FILE"

mkfs.ext4 -q "/dev/$dev"
wait_state "$dev" data
before=$(fingerprint "$dev")
expect_error NotLuks vaultctl --json unlock "$dev" --name plain --key-file "$KEY_FILE"
expect_error NotLuks vaultctl --json lock "$dev"
check "no mapping was made" test ! -e /dev/mapper/plain
check "nothing changed on disk" test "$before" = "$(fingerprint "$dev")"
