# The dm-crypt options vaultd chooses for cloud block storage: a volume it
# formats opens with 4096-byte sectors (the disk reports 512), without the
# read workqueue (writes keep theirs) and without discards, and the header
# keeps the flag so that plain cryptsetup opens it the same way. `vaultctl
# tune` shows them, and switches them per volume; a change applies from the
# next unlock, and a user polkit knows nothing good about cannot make one.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

table_of() {
    dmsetup table "$1"
}

# The flags of a `vaultctl --json tune` reply, space-separated.
flags_in() {
    python3 -c "import json,sys; print(' '.join(json.load(sys.stdin)['flags']))"
}

dev=$(lab_attach dmopts 256M virtio)
wait_state "$dev" empty
check "the disk reports 512-byte sectors" test "$(blockdev --getss "/dev/$dev")" = 512
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked

vaultctl unlock "$dev" --name dmopts --key-file "$KEY_FILE" >/dev/null
table=$(table_of dmopts)
echo "$table"
check "4096-byte sectors" grep -q "sector_size:4096" <<<"$table"
check "no read workqueue" grep -q "no_read_workqueue" <<<"$table"
check "the write workqueue kept" bash -c "! grep -q no_write_workqueue <<<'$table'"
check "no discards" bash -c "! grep -q allow_discards <<<'$table'"

shown=$(vaultctl --json tune "$dev")
echo "$shown"
check "tune shows what the header keeps" \
    test "$(flags_in <<<"$shown")" = "no_read_workqueue"

check "a user without rights may read them" \
    bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups vaultctl tune $dev \
        | grep -q 'keeps no_read_workqueue$'"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
    vaultctl --json tune "$dev" --read-workqueue on 2>&1) && fail "a user without rights tuned"
echo "$out"
check "refused, as an administrator's action" grep -q "an administrator's" <<<"$out"
check "without sending the user to the group" bash -c '! grep -q "join the group"' <<<"$out"
check "and cannot change them" \
    test "$(vaultctl --json tune "$dev" | flags_in)" = "no_read_workqueue"

path=$(busctl --system call org.vaultd.Vault1 /org/vaultd/Vault1 org.vaultd.Vault1.Manager \
    Resolve s "$dev" | cut -d'"' -f2)
# busctl shows the error's message, not its name.
if out=$(busctl --system call org.vaultd.Vault1 "$path" org.vaultd.Vault1.Volume Tune \
    'a{sv}' 1 read-workqueue s on 2>&1); then
    fail "Tune took a string for read-workqueue"
fi
check "a mistyped option is refused by name" \
    grep -q "option 'read-workqueue' must be of type 'b'" <<<"$out"
check "and changed nothing" \
    test "$(vaultctl --json tune "$dev" | flags_in)" = "no_read_workqueue"

changed=$(vaultctl --json tune "$dev" --read-workqueue on --discard on)
echo "$changed"
check "the read workqueue is back on and discards stored" \
    test "$(flags_in <<<"$changed")" = allow_discards
check "the open mapping keeps its options until it is locked" \
    grep -q "no_read_workqueue" <<<"$(table_of dmopts)"

vaultctl lock "$dev" >/dev/null
vaultctl unlock "$dev" --name dmopts --key-file "$KEY_FILE" >/dev/null
table=$(table_of dmopts)
echo "$table"
check "unlocked again: with the workqueues" bash -c "! grep -q workqueue <<<'$table'"
check "and with discards" grep -q "allow_discards" <<<"$table"
vaultctl lock "$dev" >/dev/null

vaultctl tune "$dev" --read-workqueue off --write-workqueue off --discard off >/dev/null
cryptsetup open --key-file "$KEY_FILE" "/dev/$dev" byhand
table=$(table_of byhand)
echo "$table"
check "plain cryptsetup opens it with the header's flags, both workqueues bypassed" \
    bash -c "grep -q no_read_workqueue <<<'$table' && grep -q no_write_workqueue <<<'$table' \
        && ! grep -q allow_discards <<<'$table'"
cryptsetup close byhand

# Asked at format: the workqueues kept, discards on.
other=$(lab_attach dmopts2 256M virtio)
wait_state "$other" empty
vaultctl format "$other" --fs ext4 --key-file "$KEY_FILE" --keep-workqueues --discard >/dev/null
wait_state "$other" locked
check "format --keep-workqueues --discard stores only allow_discards" \
    test "$(vaultctl --json tune "$other" | flags_in)" = allow_discards
lab_detach dmopts2
lab_detach dmopts
