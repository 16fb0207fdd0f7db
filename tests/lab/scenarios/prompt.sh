# Passphrases typed at a terminal: asked twice for format (and refused when
# the two differ), once for unlock, never echoed.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach typed 128M)
wait_state "$dev" empty

status=0
out=$(on_tty "first one,second one" vaultctl format "$dev") || status=$?
echo "$out"
check "differing passphrases are refused" test "$status" -ne 0
check "the refusal says why" grep -q "do not match" <<<"$out"
check "nothing was formatted" volume_is "$dev" empty

out=$(on_tty "typed secret,typed secret" vaultctl format "$dev")
echo "$out"
check "format asked twice" test "$(grep -c '<answered>' <<<"$out")" -eq 2
check "the passphrase was not echoed" bash -c "! grep -q 'typed secret' <<<'$out'"
wait_state "$dev" locked

out=$(on_tty "typed secret" vaultctl unlock "$dev" --name typed)
echo "$out"
check "unlock asked once and opened the mapping" test -b /dev/mapper/typed
vaultctl lock typed
check "the typed passphrase matches a key file without the newline" \
    bash -c "printf 'typed secret' >typed.key && vaultctl unlock $dev --name typed --key-file typed.key"
vaultctl lock typed
