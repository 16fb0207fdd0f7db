# shellcheck shell=bash
# Helpers for lab scenarios; source it from a scenario:
#
#     source "$(dirname "${BASH_SOURCE[0]}")/../guest/lib.sh"
#
# Disks:   lab_attach ID SIZE [virtio|nvme|scsi] [SERIAL]   (prints e.g. vdb)
#          lab_attach_carried ID SIZE [virtio|nvme|scsi] [SERIAL]
#                                           (the same, but the image is kept)
#          lab_detach ID
#          lab_grow ID SIZE                 (virtio and scsi; qemu cannot grow NVMe)
# Checks:  wait_for TIMEOUT_S CMD...    poll until CMD succeeds (whole seconds)
#          check DESCRIPTION CMD...     run CMD, print "ok: ..." or fail
#          fail MESSAGE                 print "FAIL: ..." and end the scenario
#
# SIZE is bytes or a number with K, M, G or T (binary). SERIAL (default: ID)
# is what the guest sees as the disk's serial, at most 20 of [A-Za-z0-9_-];
# an NVMe serial like vol0123456789abcdef0 looks like an EBS volume id.
# An ID names a disk image for the length of one scenario: detaching keeps
# the image, so attaching the same ID again brings the same data back (SIZE is
# then ignored). After each scenario the harness unmounts, closes and
# detaches whatever the scenario left on its disks.
# A carried disk's image outlives the scenario and its guest: whichever later
# scenario of the same lab.py run, in this guest or a later one, attaches the
# ID with lab_attach_carried gets the image as it was left (SIZE only sizes a
# new one), until the run ends. It is detached after each scenario like any
# other, and is not the image lab_attach would give the same ID.
# Progress goes to stderr; stdout carries only what a helper returns.

# Command substitutions ($(lab_attach ...)) fail the scenario too, and an
# unexpected failure says where it happened.
shopt -s inherit_errexit
set -E
trap 'lab__on_error $? "$BASH_COMMAND" "${BASH_SOURCE[0]}" "$LINENO"' ERR

lab__on_error() {
    echo "FAIL: '$2' exited with status $1 at ${3##*/}:$4" >&2
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
    else
        fail "$what (status $?: $*)"
    fi
}

lab__now_us() {
    echo "${EPOCHREALTIME/./}"
}

wait_for() {
    local timeout=$1
    shift
    local deadline=$(( $(lab__now_us) + timeout * 1000000 ))
    until "$@"; do
        if (( $(lab__now_us) > deadline )); then
            echo "FAIL: gave up after ${timeout} s waiting for: $*" >&2
            return 1
        fi
        sleep 0.1
    done
}

# lab__request VERB ARG...: one round trip with the host; prints the words
# after "ok". The port admits one opener at a time, hence the lock; a reply
# left over from an interrupted request carries another SEQ and is skipped.
lab__request() {
    local seq="$BASHPID.$SRANDOM" fd line="" got=""
    local word
    for word in "$@"; do
        [[ -n $word && $word != *[[:space:]]* ]] || fail "lab: bad request word '$word' in: $*"
    done
    mkdir -p /run/lab
    {
        flock -w 600 9 || fail "lab: the control port stayed locked for 600 s"
        exec {fd}<>"$LAB_CTL_DEV"
        printf '%s %s\n' "$seq" "$*" >&"$fd"
        while read -r -t 600 -u "$fd" line; do
            if [[ $line == "$seq "* ]]; then
                got=${line#"$seq "}
                break
            fi
        done
        exec {fd}>&-
    } 9>/run/lab/ctl.lock
    case $got in
        ok) ;;
        ok\ *) echo "${got#ok }" ;;
        error\ *) fail "lab: host refused '$*': ${got#error }" ;;
        *) fail "lab: no reply from the host to '$*'" ;;
    esac
}

lab__settle() {
    udevadm settle --timeout=60 || fail "lab: udev events still queued after 60 s"
}

# The serial the host gave a disk, from sysfs (each bus keeps it elsewhere).
lab__serial_of() {
    local dev=$1 serial=""
    case $dev in
        vd*) serial=$(<"/sys/block/$dev/serial") ;;
        nvme*) serial=$(<"/sys/block/$dev/device/serial") ;;
        # Unit serial number VPD page: a 4-byte header, then the serial.
        sd*) serial=$(tail -c +5 "/sys/block/$dev/device/vpd_pg80" | tr -d '\0') ;;
    esac 2>/dev/null || true
    serial=${serial%"${serial##*[![:space:]]}"}
    echo "${serial#"${serial%%[![:space:]]*}"}"
}

lab__disk_names() {
    local bus=$1 path name
    for path in /sys/block/*; do
        name=${path##*/}
        case $bus in
            virtio) [[ $name =~ ^vd[a-z]+$ ]] ;;
            # Not the hidden per-path nodes (nvme0c0n1) of native multipath.
            nvme) [[ $name =~ ^nvme[0-9]+n[0-9]+$ ]] ;;
            scsi) [[ $name =~ ^sd[a-z]+$ ]] ;;
        esac && echo "$name"
    done
    return 0
}

# lab__disk_with_serial BUS SERIAL: prints the disk's kernel name, if sysfs
# has it. A disk's sysfs entry comes before its /dev node and goes after it.
lab__disk_with_serial() {
    local name
    for name in $(lab__disk_names "$1"); do
        if [[ $(lab__serial_of "$name") == "$2" ]]; then
            echo "$name"
            return 0
        fi
    done
    return 1
}

lab__disk_has_node() {
    local name
    name=$(lab__disk_with_serial "$@") && [[ -b /dev/$name ]]
}

lab__no_disk_with_serial() {
    ! lab__disk_with_serial "$@" >/dev/null
}

lab__disk_has_size() {
    local name
    name=$(lab__disk_with_serial "$1" "$2") || return 1
    (( $(<"/sys/block/$name/size") * 512 == $3 ))
}

lab_attach() {
    lab__attach lab_attach attach "$@"
}

lab_attach_carried() {
    lab__attach lab_attach_carried attach-carried "$@"
}

# lab__attach HELPER VERB ID SIZE [BUS] [SERIAL]: for both of the above.
lab__attach() {
    local helper=$1 verb=$2
    shift 2
    (( $# >= 2 && $# <= 4 )) || fail "usage: $helper ID SIZE [virtio|nvme|scsi] [SERIAL]"
    local id=$1 size=$2 bus=${3:-virtio} serial=${4:-$1} reply name image="" what=disk
    reply=$(lab__request "$verb" "$id" "$size" "$bus" "$serial")
    # A carried disk's reply says whether its image is new or was reused.
    read -r bus serial image <<<"$reply"
    wait_for 60 lab__disk_has_node "$bus" "$serial" \
        || fail "lab: disk $id ($bus, serial $serial) did not appear in the guest"
    # udev's links (/dev/disk/by-id) exist once its queue is empty.
    lab__settle
    name=$(lab__disk_with_serial "$bus" "$serial")
    [[ -z $image ]] || what="carried disk"
    echo "lab: attached $what $id ($bus, $size${image:+, $image image}, serial $serial) as $name" >&2
    echo "$name"
}

lab_detach() {
    (( $# == 1 )) || fail "usage: lab_detach ID"
    local id=$1 reply bus serial
    reply=$(lab__request detach "$id")
    read -r bus serial <<<"$reply"
    # SCSI unplug is done on the host before the guest has noticed.
    wait_for 60 lab__no_disk_with_serial "$bus" "$serial" \
        || fail "lab: disk $id ($bus, serial $serial) is still in the guest"
    lab__settle
    echo "lab: detached disk $id" >&2
}

# lab_storm_attach PREFIX COUNT SIZE BUS: COUNT disks at once (serials
# PREFIX0...), back when every one has its node and udev is done with them.
lab_storm_attach() {
    (( $# == 4 )) || fail "usage: lab_storm_attach PREFIX COUNT SIZE BUS"
    local serial serials
    serials=$(lab__request storm-attach "$@")
    for serial in $serials; do
        wait_for 120 lab__disk_has_node "$4" "$serial" \
            || fail "lab: storm disk $serial ($4) did not appear in the guest"
    done
    lab__settle
}

# lab_storm_detach PREFIX COUNT BUS: unplugs them all at once.
lab_storm_detach() {
    (( $# == 3 )) || fail "usage: lab_storm_detach PREFIX COUNT BUS"
    local serial serials
    serials=$(lab__request storm-detach "$1" "$2")
    for serial in $serials; do
        wait_for 120 lab__no_disk_with_serial "$3" "$serial" \
            || fail "lab: storm disk $serial ($3) is still in the guest"
    done
}

lab_grow() {
    (( $# == 2 )) || fail "usage: lab_grow ID SIZE"
    local id=$1 reply bus serial bytes
    reply=$(lab__request grow "$id" "$2")
    read -r bus serial bytes <<<"$reply"
    wait_for 60 lab__disk_has_size "$bus" "$serial" "$bytes" \
        || fail "lab: disk $id ($bus) did not reach $bytes bytes in the guest"
    lab__settle
    echo "lab: grew disk $id to $2" >&2
}
