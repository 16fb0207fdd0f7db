# A user outside the group vault, on a terminal, is asked for an
# administrator's password by the polkit text agent vaultctl starts; with it
# typed, the format goes ahead. --no-ask-password refuses instead.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

ensure_users
getent passwd admin >/dev/null || useradd --create-home --groups sudo admin
echo 'admin:admin password' | chpasswd

dev=$(lab_attach agent 128M)
wait_state "$dev" empty
vaultctl=$(command -v vaultctl)

status=0
out=$(on_tty "typed secret,typed secret" setpriv --reuid=intruder --regid=intruder \
    --init-groups "$vaultctl" --no-ask-password format "$dev") || status=$?
echo "$out"
check "--no-ask-password refuses" test "$status" -ne 0
check "and says authentication is needed" grep -q "needs authentication" <<<"$out"
check "nothing was formatted" volume_is "$dev" empty

status=0
out=$(on_tty "typed secret,typed secret,wrong" setpriv --reuid=intruder \
    --regid=intruder --init-groups "$vaultctl" format "$dev") || status=$?
echo "$out"
check "a wrong password is refused" test "$status" -ne 0
check "as not allowed" grep -q "is not allowed" <<<"$out"
check "nothing was formatted after the wrong password" volume_is "$dev" empty

status=0
out=$(on_tty "typed secret,typed secret,admin password" setpriv --reuid=intruder \
    --regid=intruder --init-groups "$vaultctl" format "$dev") || status=$?
echo "$out"
check "with the password typed, format succeeds" test "$status" -eq 0
check "the agent asked for a password" grep -q "AUTHENTICATING FOR org.vaultd.format" <<<"$out"
check "the password was not echoed" bash -c '! grep -q "admin password" <<<"$1"' _ "$out"
check "the volume is formatted" luks_magic "$dev"
wait_state "$dev" locked
