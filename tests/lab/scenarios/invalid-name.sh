# Mapping names that are empty, "." or "..", too long, or hold characters
# outside letters, digits and -_.+=,@% are refused by name.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach names 128M)
wait_state "$dev" empty
vaultctl format "$dev" --key-file "$KEY_FILE"
wait_state "$dev" locked

long=$(printf 'n%.0s' {1..128})
for name in "" "." ".." "$long" "a/b" "a b" "../x" 'x$y' "ümlaut"; do
    expect_error InvalidName vaultctl --json unlock "$dev" --name "$name" --key-file "$KEY_FILE"
done
check "nothing was unlocked" volume_is "$dev" locked
check "no dm-crypt mapping exists" no_crypt_mapping

ok=$(printf 'n%.0s' {1..127})
vaultctl unlock "$dev" --name "$ok" --key-file "$KEY_FILE"
check "a 127-byte name is fine" test -b "/dev/mapper/$ok"
vaultctl lock "$dev"
# libdevmapper stores ',' and '%' escaped (\x2c), so look at what vaultd
# reports, and mount it to show vaultd finds the mapping's node anyway.
special='a-_.+=,@%Z9'
vaultctl unlock "$dev" --name "$special" --mount /mnt/special --key-file "$KEY_FILE"
check "every allowed special character is fine" \
    test "$(volume_field "$dev" mappingName)" = "$special"
check "and it is mounted" mountpoint -q /mnt/special
vaultctl lock "$dev"
