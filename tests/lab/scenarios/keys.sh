# Keyslots through vaultctl: list with kind and cost; add a key file;
# a recovery key, shown once, opens the volume like a passphrase; change
# a secret (the reply names its slot, the old one stops working); remove
# a keyslot only with the secret of one that stays, never the last one.
# Every change refreshes vaultd's header backup. A weak passphrase is
# refused at format unless accepted. A LUKS1 volume made elsewhere
# unlocks, mounts, grows and locks; what needs LUKS2 says so.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

second=$PWD/second.key
third=$PWD/third.key
head -c 64 /dev/urandom >"$second"
head -c 64 /dev/urandom >"$third"

dev=$(lab_attach keys 256M virtio)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
uuid=$(volume_field "$dev" luksUuid)
kept=/var/lib/vaultd/headers/$uuid.img

slots() {
    vaultctl --json keyslot list "$dev" |
        python3 -c "import json,sys; print(' '.join(f\"{s['slot']}:{s['kind']}\" for s in json.load(sys.stdin)['keyslots']))"
}
kind_of() {
    vaultctl --json keyslot list "$dev" |
        python3 -c "import json,sys; print(''.join(s['kind'] for s in json.load(sys.stdin)['keyslots'] if s['slot'] == $1))"
}
opens() {
    vaultctl unlock "$dev" --name keys --key-file "$1" >/dev/null && vaultctl lock "$dev" >/dev/null
}
vaultctl keyslot list "$dev"
check "a fresh volume has one keyslot: its passphrase, recorded as a key file" \
    test "$(slots)" = "0:keyfile"

before=$(sha256sum <"$kept")
vaultctl keyslot add "$dev" --key-file "$KEY_FILE" --new-key-file "$second"
check "keyslot add put the key file in slot 1" test "$(slots)" = "0:keyfile 1:keyfile"
check "the key file opens the volume" opens "$second"
check "the header backup was refreshed" test "$(sha256sum <"$kept")" != "$before"

vaultctl --json recovery-key "$dev" --key-file "$KEY_FILE" >recovery.json
recovery=$(python3 -c "import json; print(json.load(open('recovery.json'))['recoveryKey'])")
check "a recovery key is 8 groups of 6" grep -qE '^([0-9a-z]{6}-){7}[0-9a-z]{6}$' <<<"$recovery"
check "it has a keyslot of its own, listed as recovery" test "$(slots)" = "0:keyfile 1:keyfile 2:recovery"
check "its keyslot needs no memory (pbkdf2)" \
    bash -c "vaultctl --json keyslot list $dev | python3 -c 'import json,sys; print([s[\"pbkdf\"] for s in json.load(sys.stdin)[\"keyslots\"] if s[\"slot\"] == 2][0])' | grep -qx pbkdf2"
printf '%s' "$recovery" >recovery.key
check "the recovery key opens the volume wherever a passphrase does" opens recovery.key
on_tty "$recovery" vaultctl unlock "$dev" --name keys
check "typed at the prompt too" volume_is "$dev" unlocked
vaultctl lock "$dev" >/dev/null

out=$(vaultctl keyslot change "$dev" --key-file "$second" --new-key-file "$third")
echo "$out"
moved=$(grep -oE 'keyslot [0-9]+' <<<"$out" | grep -oE '[0-9]+')
check "change says where the new key file is" test -n "$moved"
check "the kind moved with it" test "$(kind_of "$moved")" = keyfile
check "slot 1 is free again" test -z "$([[ $moved == 1 ]] || kind_of 1)"
expect_error WrongPassphrase vaultctl --json unlock "$dev" --name keys --key-file "$second"
check "the new key file opens it" opens "$third"

expect_error WrongPassphrase vaultctl --json keyslot remove "$dev" "$moved" --key-file "$third"
vaultctl keyslot remove "$dev" 2 --key-file "$KEY_FILE"
expect_error WrongPassphrase vaultctl --json unlock "$dev" --name keys --key-file recovery.key
vaultctl keyslot remove "$dev" "$moved" --key-file "$KEY_FILE"
check "one keyslot is left" test "$(slots)" = "0:keyfile"
expect_error LastKeyslot vaultctl --json keyslot remove "$dev" 0 --key-file "$KEY_FILE"
check "and it still opens the volume" opens "$KEY_FILE"
expect_error WeakPassphrase on_tty 'correct horse battery staple,password1,password1' \
    vaultctl --json keyslot add "$dev"
check "a weak passphrase added nothing" test "$(slots)" = "0:keyfile"

# A weak passphrase at format: refused, the device untouched, unless accepted.
weak=$(lab_attach weak 256M virtio)
wait_state "$weak" empty
out=$(on_tty 'password1,password1' vaultctl format "$weak" --fs ext4 2>&1) && status=0 || status=$?
echo "$out"
check "format refuses a weak passphrase" test "$status" -ne 0
check "saying why" grep -q 'WeakPassphrase\|too weak' <<<"$out"
check "and writes nothing" volume_is "$weak" empty
on_tty 'password1,password1' vaultctl format "$weak" --fs ext4 --allow-weak-passphrase
wait_state "$weak" locked
check "accepted explicitly, it formats" volume_is "$weak" locked

# LUKS1, made with cryptsetup as another tool would.
old=$(lab_attach luks1 128M virtio)
wait_state "$old" empty
cryptsetup luksFormat --batch-mode --type luks1 --pbkdf-force-iterations 1000 \
    --key-file "$KEY_FILE" "/dev/$old"
cryptsetup open --key-file "$KEY_FILE" "/dev/$old" made-elsewhere
mkfs.ext4 -q /dev/mapper/made-elsewhere
cryptsetup close made-elsewhere
wait_state "$old" locked
check "LUKS1 is listed as such" \
    bash -c "vaultctl --json keyslot list $old | grep -q '\"luksVersion\": *1'"
vaultctl unlock "$old" --name old --mount --key-file "$KEY_FILE" >/dev/null
echo "luks1 data" >/media/vault/old/marker
size_before=$(fs_size /media/vault/old)
lab_grow luks1 256M
vaultctl grow "$old"
check "a LUKS1 volume grows online" test "$(fs_size /media/vault/old)" -gt "$size_before"
vaultctl lock "$old" >/dev/null
check "and locks" volume_is "$old" locked
expect_error NotSupportedOnLuks1 vaultctl --json recovery-key "$old" --key-file "$KEY_FILE"
expect_error NotSupportedOnLuks1 vaultctl --json keyslot add "$old" --key-file "$KEY_FILE" --new-key-file "$second"
vaultctl unlock "$old" --name old --mount --key-file "$KEY_FILE" >/dev/null
check "its data survived" grep -qx 'luks1 data' /media/vault/old/marker
vaultctl lock "$old" >/dev/null
