#!/bin/bash
# The kernel pieces vaultd relies on, exercised with the stock tools and no
# vaultd: when a vaultd scenario fails, this one tells whether the lab can do
# the same work at all. dm-crypt's aes-xts and the file systems load on demand.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../guest/lib.sh"

dev=$(lab_attach crypt 320M virtio)
mapping=lab-kernel
passphrase=lab-passphrase

cleanup() {
    umount /mnt/lab-kernel 2>/dev/null || true
    cryptsetup close "$mapping" 2>/dev/null || true
}
trap cleanup EXIT

# A cheap KDF: argon2id's defaults take seconds and up to 1 GiB under TCG.
echo -n "$passphrase" | cryptsetup luksFormat --batch-mode --type luks2 \
    --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "/dev/$dev" -
echo -n "$passphrase" | cryptsetup open "/dev/$dev" "$mapping" -
check "the mapping exists" test -b "/dev/mapper/$mapping"
check "the mapping is aes-xts" bash -c "cryptsetup status $mapping | grep -q 'cipher:  aes-xts-plain64'"

mkdir -p /mnt/lab-kernel
for fs in ext4 xfs btrfs; do
    wipefs --all --quiet "/dev/mapper/$mapping"
    "mkfs.$fs" -q "/dev/mapper/$mapping" >/dev/null 2>&1 || "mkfs.$fs" -f "/dev/mapper/$mapping" >/dev/null
    mount "/dev/mapper/$mapping" /mnt/lab-kernel
    echo "$fs" >/mnt/lab-kernel/proof
    umount /mnt/lab-kernel
    mount "/dev/mapper/$mapping" /mnt/lab-kernel
    check "$fs on the mapping keeps a file across mounts" test "$(cat /mnt/lab-kernel/proof)" = "$fs"
    umount /mnt/lab-kernel
done

cryptsetup close "$mapping"
check "the mapping is closed" test ! -e "/dev/mapper/$mapping"
lab_detach crypt
