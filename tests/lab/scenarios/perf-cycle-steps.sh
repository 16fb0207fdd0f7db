# Measurement, not a test (not in tests/lab/meson.build): where the time of
# bench-cycle's cycle goes. Each step of the cycle through vaultctl
# (unlock, mount, unmount, lock as four calls, and unlock --mount and lock
# as two) and by hand (cryptsetup open, mount, umount, cryptsetup close),
# alternating, STEP_ROUNDS times; and what a vaultctl call costs that asks
# vaultd nothing (--version, beside cryptsetup --version) and one that only
# reads (status). Medians, as "bench: NAME VALUE ms".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

ROUNDS=${STEP_ROUNDS:-9}

dev=$(loop_volume steps.img 256M)
loop=/dev/$dev
mkdir -p /steps

declare -A took
timed() {
    local label=$1 started
    shift
    started=$(now_ms)
    "$@" >/dev/null
    took[$label]+="$(($(now_ms) - started)) "
}
round() {
    timed version vaultctl --version
    timed cs-version cryptsetup --version
    timed status vaultctl status "$dev"
    timed unlock vaultctl unlock "$dev" --name steps --key-file "$KEY_FILE"
    timed mount vaultctl mount steps /mnt/steps
    timed unmount vaultctl unmount steps
    timed lock vaultctl lock steps
    timed unlock-mount vaultctl unlock "$dev" --name steps --mount=/mnt/steps --key-file "$KEY_FILE"
    timed lock-mounted vaultctl lock steps
    timed cs-open cryptsetup open --key-file "$KEY_FILE" "$loop" stepscli
    timed cs-mount mount /dev/mapper/stepscli /steps
    timed cs-umount umount /steps
    timed cs-close cryptsetup close stepscli
}
round  # untimed: the first run of each reads its programs from disk
took=()
for ((i = 0; i < ROUNDS; i++)); do
    round
done
for label in version cs-version status unlock mount unmount lock unlock-mount lock-mounted \
    cs-open cs-mount cs-umount cs-close; do
    # shellcheck disable=SC2086
    echo "steps: $label ${took[$label]}"
    # shellcheck disable=SC2086
    echo "bench: step-$label $(median ${took[$label]}) ms"
done
losetup -d "$loop"
