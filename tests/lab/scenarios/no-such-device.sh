# Devices that do not exist, or are not volumes, are refused by name.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

expect_error NoSuchDevice vaultctl --json status /dev/vdz
expect_error NoSuchDevice vaultctl --json unlock vdz --name x --key-file "$KEY_FILE"
expect_error NoSuchDevice vaultctl --json format /dev/disk/by-id/nothing --key-file "$KEY_FILE"
expect_error NoSuchDevice vaultctl --json lock nosuchmapping

dev=$(lab_attach gone 64M)
wait_state "$dev" empty
lab_detach gone
wait_gone "$dev"
expect_error NoSuchDevice vaultctl --json format "$dev" --key-file "$KEY_FILE"
