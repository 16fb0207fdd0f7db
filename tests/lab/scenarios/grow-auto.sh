# Automatic growth: the lab's vaultd.conf lists the label "autogrow" under
# [grow] volumes. A mounted volume with that label follows its disk from
# 1 GiB to 2 GiB with no call at all, within 30 seconds, and the journal
# says what vaultd did; a volume without the label is left as it is.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

grown_to_2g() {
    (($(fs_size "$1") >= 1900 << 20))
}

auto=$(lab_attach auto 1G virtio)
other=$(lab_attach manual-only 1G virtio)
for d in "$auto" "$other"; do
    wait_state "$d" empty
done
vaultctl format "$auto" --fs ext4 --label autogrow --key-file "$KEY_FILE" >/dev/null
vaultctl format "$other" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$auto" locked
wait_state "$other" locked
vaultctl unlock "$auto" --name auto --mount --key-file "$KEY_FILE" >/dev/null
vaultctl unlock "$other" --name manual-only --mount --key-file "$KEY_FILE" >/dev/null
head -c 4M /dev/urandom >/media/vault/auto/kept
sum=$(sha256sum </media/vault/auto/kept)

lab_grow auto 2G
lab_grow manual-only 2G
started=$(date +%s%N)
wait_for 30 grown_to_2g /media/vault/auto
echo "the filesystem followed its disk in $((($(date +%s%N) - started) / 1000000)) ms"
check "with no call, the labelled volume's filesystem offers about 2 GiB" grown_to_2g /media/vault/auto
check "its data is intact" test "$(sha256sum </media/vault/auto/kept)" = "$sum"
check "the journal says vaultd grew it" grep -q "automatic growth of '/dev/$auto': done" "$LAB_VAULTD_LOG"
check "nothing is left to grow on it" test "$(volume_field "$auto" growableBy)" = 0
check "the volume without the label still waits to be grown" \
    test "$(volume_field "$other" growableBy)" = $((1 << 30))
check "and its filesystem is as it was" bash -c "(( \$(df -B1 --output=size /media/vault/manual-only | tail -n 1) < 1100 << 20 ))"

vaultctl lock auto >/dev/null
vaultctl lock manual-only >/dev/null
lab_detach auto
lab_detach manual-only
check "no mapping is left" no_crypt_mapping
