# A user polkit knows nothing good about (nobody: no group, no session) is
# refused at every change and nothing changes, while reading state stays open.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

as_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

dev=$(lab_attach auth 128M)
wait_state "$dev" empty
before=$(fingerprint "$dev")

check "anyone may list volumes" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups \
    vaultctl list | grep -q '^/dev/$dev '"
expect_refused as_nobody vaultctl --json format "$dev" --key-file - <"$KEY_FILE"
check "nothing was written" test "$before" = "$(fingerprint "$dev")"

vaultctl format "$dev" --key-file "$KEY_FILE"
expect_refused as_nobody vaultctl --json unlock "$dev" --name nobodys \
    --key-file - <"$KEY_FILE"
check "no mapping was made" test ! -e /dev/mapper/nobodys

vaultctl unlock "$dev" --name rootvol --key-file "$KEY_FILE"
expect_refused as_nobody vaultctl --json mount "$dev" /mnt/nobody
expect_refused as_nobody vaultctl --json lock rootvol
check "the volume is still unlocked" volume_is "$dev" unlocked
vaultctl lock rootvol
