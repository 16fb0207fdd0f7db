#!/bin/bash
# The lab's disk operations on every bus, without vaultd: what vaultd's
# attach and grow scenarios take for granted. A volume keeps its data across
# detach and attach; growing it shows in the guest as a capacity change
# (not on NVMe: qemu cannot resize a namespace, so lab_grow refuses it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../guest/lib.sh"

size_of() {
    blockdev --getsize64 "/dev/$1"
}

for bus in virtio nvme scsi; do
    dev=$(lab_attach "$bus-vol" 32M "$bus")
    check "$bus: $dev has 32 MiB" test "$(size_of "$dev")" -eq $((32 << 20))
    echo "written on $bus" | dd of="/dev/$dev" conv=fsync status=none

    size=32
    if [[ $bus != nvme ]]; then
        lab_grow "$bus-vol" 48M
        size=48
        check "$bus: $dev has grown to 48 MiB" test "$(size_of "$dev")" -eq $((48 << 20))
    fi

    lab_detach "$bus-vol"
    dev=$(lab_attach "$bus-vol" 32M "$bus")
    check "$bus: re-attached as $dev, still $size MiB" test "$(size_of "$dev")" -eq $((size << 20))
    check "$bus: the data survived detach and attach" \
        test "$(head -n 1 "/dev/$dev")" = "written on $bus"
    lab_detach "$bus-vol"
done
