#!/bin/bash
# The lab checking itself, without vaultd: disks attach, hold data, carry
# their serial into /dev/disk/by-id (as an EBS volume id does on Nitro
# instances), and go away again on detach.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../guest/lib.sh"

EBS_SERIAL=vol0123456789abcdef0

by_id_links() {
    compgen -G "/dev/disk/by-id/*$1*"
}

links_to() {
    local link
    for link in $(by_id_links "$1"); do
        [[ $(readlink -f "$link") == "/dev/$2" ]] && return 0
    done
    return 1
}

gone() {
    [[ ! -e /dev/$1 && ! -e /sys/block/$1 ]]
}

vd=$(lab_attach data 64M virtio)
check "the virtio disk $vd has 64 MiB" test "$(blockdev --getsize64 "/dev/$vd")" -eq $((64 << 20))

head -c 1M /dev/urandom >written
dd if=written of="/dev/$vd" bs=1M oflag=direct status=none
dd if="/dev/$vd" of=read-back bs=1M count=1 iflag=direct status=none
check "1 MiB written to $vd reads back the same" \
    test "$(sha256sum <written)" = "$(sha256sum <read-back)"

nv=$(lab_attach ebs 64M nvme "$EBS_SERIAL")
check "the nvme disk has an nvme name ($nv)" test "${nv#nvme}" != "$nv"
check "/dev/disk/by-id has a link with $EBS_SERIAL to $nv" links_to "$EBS_SERIAL" "$nv"

lab_detach data
lab_detach ebs
check "$vd is gone" gone "$vd"
check "$nv is gone" gone "$nv"
check "no by-id link with $EBS_SERIAL is left" bash -c "! compgen -G '/dev/disk/by-id/*$EBS_SERIAL*'"
