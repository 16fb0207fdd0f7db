# A passphrase is exact bytes: NUL and non-UTF-8 bytes work, and a trailing
# newline is part of it; when that newline is why a key file does not open,
# vaultctl says so. No passphrase byte reaches vaultd's log.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach bytes 128M)
wait_state "$dev" empty

printf 'nul\000byte\377\376 and more' >binary.key
vaultctl format "$dev" --key-file binary.key
wait_state "$dev" locked
vaultctl unlock "$dev" --name bytes --key-file binary.key
check "a key with NUL and 0xff bytes opens the volume" volume_is "$dev" unlocked
vaultctl lock bytes

printf 'nul\000byte\377\376 and more\n' >newline.key
status=0
out=$(vaultctl unlock "$dev" --name bytes --key-file newline.key 2>&1) || status=$?
echo "$out"
check "the same key with a newline added does not open it" test "$status" -eq 4
check "and vaultctl names the newline as the likely cause" grep -q "ends with a newline" <<<"$out"

printf 'nul\000byte\377\376 and' >prefix.key
expect_error WrongPassphrase vaultctl --json unlock "$dev" --name bytes --key-file prefix.key
check "no passphrase text reached vaultd's log" bash -c "! grep -a -q 'and more' '$LAB_VAULTD_LOG'"
