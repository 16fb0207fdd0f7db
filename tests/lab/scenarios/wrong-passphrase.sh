# A wrong passphrase is refused by name, and the volume stays locked.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach wrong 256M)
wait_state "$dev" empty
vaultctl format "$dev" --key-file "$KEY_FILE"
wait_state "$dev" locked
before=$(fingerprint "$dev")

expect_error WrongPassphrase vaultctl --json unlock "$dev" --name wrongpass --key-file "$WRONG_KEY"
check "no mapping was made" test ! -e /dev/mapper/wrongpass
check "the volume is still locked" volume_is "$dev" locked
check "nothing changed on disk" test "$before" = "$(fingerprint "$dev")"

vaultctl unlock "$dev" --name wrongpass --key-file "$KEY_FILE"
check "the right passphrase still opens it" test -b /dev/mapper/wrongpass
vaultctl lock "$dev"
