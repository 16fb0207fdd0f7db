# A user outside the group vault is refused at every mutating method, through
# vaultctl and through raw busctl calls, and the disk's bytes do not change;
# and ec2-user cannot lock what another user unlocked.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

ensure_users
dev=$(lab_attach target 256M)
wait_state "$dev" empty
before=$(fingerprint "$dev")
expect_refused as_user intruder vaultctl --json format "$dev" --key-file - <"$KEY_FILE"
check "format by intruder wrote nothing" test "$before" = "$(fingerprint "$dev")"

vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE"
before=$(fingerprint "$dev")
expect_refused as_user intruder vaultctl --json unlock "$dev" --name intr --key-file - <"$KEY_FILE"
vaultctl unlock "$dev" --name rootvol --key-file "$KEY_FILE"
expect_refused as_user intruder vaultctl --json mount "$dev" /mnt/intr
expect_refused as_user intruder vaultctl --json lock rootvol
expect_refused as_user intruder vaultctl --json format "$dev" --force "/dev/$dev:$(blockdev --getsize64 "/dev/$dev")" --key-file - <"$KEY_FILE"

path=/org/vaultd/Vault1/volume/$dev
raw() {
    as_user intruder busctl --system call org.vaultd.Vault1 "$path" org.vaultd.Vault1.Volume "$@"
}
refused_raw() {
    local out status=0
    out=$(raw "$@" 2>&1) || status=$?
    echo "$out" >&2
    ((status != 0)) || fail "raw call '$*' succeeded for intruder"
    [[ $out == *"not allowed"* || $out == *"needs authentication"* ]] ||
        fail "raw call '$*' failed, but not as a refusal: $out"
    echo "ok: raw '$1' is refused"
}
refused_raw Lock 'a{sv}' 0
refused_raw Lock 'a{sv}' 1 interactive b true
refused_raw Unmount 'a{sv}' 0
refused_raw Mount 'sa{sv}' /mnt/intr 0
# busctl cannot pass descriptors, so Format and Unlock go through vaultctl
# above (and through tests/fuzz).
check "still unlocked as root left it" volume_is "$dev" unlocked

expect_refused as_user ec2-user vaultctl --json lock rootvol
check "ec2-user could not lock what root unlocked" volume_is "$dev" unlocked
vaultctl lock rootvol
check "the disk's bytes did not change" test "$before" = "$(fingerprint "$dev")"
