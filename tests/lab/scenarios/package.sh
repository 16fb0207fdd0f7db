# lab-guest: init=systemd install=deb
# vaultd as its Debian packages install it (packaging/build-deb puts them in
# BUILD/deb; run by hand, see the README): vaultd enabled and running from
# /usr/libexec, the group vault, the state directory root's alone, manual
# pages and completion in place; then the walkthrough with the package's
# vaultctl, and ec2-user's doctor. An upgrade leaves vaultd and its mounted
# volume alone. Purging removes the configuration and keeps the header
# backups.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

main_pid() {
    systemctl show -p MainPID --value vaultd.service
}

check "vaultctl is the package's" test "$(command -v vaultctl)" = /usr/bin/vaultctl
check "dpkg has both packages installed" dpkg-query -W vaultd vaultctl
check "vaultd.service is enabled" systemctl is-enabled --quiet vaultd.service
check "installing started vaultd" test "$(cat /run/lab-vaultd-after-dpkg)" = active
check "vaultd runs from /usr/libexec" test "$(readlink "/proc/$(main_pid)/exe")" = /usr/libexec/vaultd
check "the group vault exists" getent group vault
check "/var/lib/vaultd is root's alone" test "$(stat -c %a:%U /var/lib/vaultd)" = 700:root
check "the manual pages are installed" man -w vaultctl vaultd vaultd.conf vaultd.volume
check "the bash completion is installed" test -f /usr/share/bash-completion/completions/vaultctl

bash "$(dirname "${BASH_SOURCE[0]}")/walkthrough.sh"

ensure_users
as_user ec2-user vaultctl doctor
check "format kept a header backup" compgen -G '/var/lib/vaultd/headers/*.img'
backups=$(echo /var/lib/vaultd/headers/*.img)

# An upgrade (here the same packages again) leaves vaultd running, and the
# volume it unlocked mounted.
dev=$(lab_attach upgrade 256M)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
vaultctl unlock "$dev" --name upgraded --mount /secure --key-file "$KEY_FILE"
pid=$(main_pid)
dpkg -i "$LAB_BUILD"/deb/vaultd_*.deb "$LAB_BUILD"/deb/vaultctl_*.deb
check "the upgrade left vaultd running as it was" test "$(main_pid)" = "$pid"
check "and the volume mounted" mountpoint -q /secure
vaultctl lock upgraded
lab_detach upgrade

dpkg --purge vaultctl vaultd
check "vaultd is stopped" bash -c '! systemctl --quiet is-active vaultd.service'
check "purging removed the configuration" test ! -e /etc/vaultd/vaultd.conf
check "purging kept the header backups" ls $backups
check "vaultctl is gone" bash -c '! command -v vaultctl'
