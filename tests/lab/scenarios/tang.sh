# lab-guest: init=systemd
# Network-bound keys: a tang server (Debian's tangd, socket-activated on the
# guest's loopback) holds the key. vaultctl bind puts a random key in a
# keyslot of its own and its JWE in a clevis token, which clevis itself
# reads back. A configured volume with key = "token" attached again is
# unlocked and mounted with no passphrase; with tang stopped it stays locked,
# says why, and opens by hand; once tang is back, vaultctl unlock opens it
# with no passphrase. A wrong thumbprint binds nothing; unbind removes the
# slot and the token. A binding clevis makes itself (an sss pin) opens too.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
ensure_users

# The server: its keys, and a socket on the loopback.
rm -rf /var/lib/tang && mkdir -p /var/lib/tang
/usr/libexec/tangd-keygen /var/lib/tang
chown -R _tang:_tang /var/lib/tang
mkdir -p /etc/systemd/system/tangd.socket.d
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:7500\n' \
    >/etc/systemd/system/tangd.socket.d/lab.conf
systemctl daemon-reload
systemctl restart tangd.socket
url=http://127.0.0.1:7500
curl --silent --fail "$url/adv" >adv.json
check "tang answers on the loopback" test -s adv.json
# What the README tells an administrator to run on the server.
thp=$(tang-show-keys 7500)
echo "signing key thumbprint: $thp"
# tangd-keygen names each key file by its thumbprint; the signing key is the
# one that verifies.
signing=$(python3 - <<'PY'
import glob, json, os
for path in glob.glob("/var/lib/tang/*.jwk"):
    if "verify" in json.load(open(path)).get("key_ops", []):
        print(os.path.basename(path)[:-4])
PY
)
check "tang-show-keys prints the signing key's thumbprint" test "$thp" = "$signing"

vol=vol0d5000000000000b7
volid=vol-0d5000000000000b7
dev=$(lab_attach tang 256M nvme "$vol")
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --label tangdata --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked

expect_error KeyServerUnavailable \
    vaultctl --json bind "$dev" tang "$url" --thumbprint AAAAAAAAAAAAAAAAAAAAAAAAAAA --key-file "$KEY_FILE"
check "a wrong thumbprint added no keyslot" \
    bash -c "vaultctl --json keyslot list $dev | python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)[\"keyslots\"]) != 1)'"

vaultctl --json bind "$dev" tang "$url" --thumbprint "$thp" --key-file "$KEY_FILE" >bind.json
cat bind.json
slot=$(python3 -c 'import json; print(json.load(open("bind.json"))["keyslot"])')
vaultctl keyslot list "$dev" | tee slots.txt
check "the new slot is bound to a clevis token" grep -qE "^ *$slot +token:clevis" slots.txt
clevis luks list -d "/dev/$dev" | tee clevis.txt
check "clevis reads vaultd's binding as its own" grep -q "tang '{\"url\":\"$url\"" clevis.txt
lab_detach tang
wait_gone "$dev"

mkdir -p /etc/vaultd/volumes.d
cat >/etc/vaultd/volumes.d/tangdata.toml <<TOML
[match]
ebs-volume-id = "$volid"

[unlock]
key = "token"

[mount]
point = "/secure/tang"
owner = "ec2-user"
TOML
vaultctl reload

mounted_at() {
    [[ $(findmnt --noheadings --output SOURCE "$1" 2>/dev/null) == /dev/mapper/tangdata ]]
}
started=$(date +%s%N)
dev=$(lab_attach tang 256M nvme "$vol")
wait_for 30 mounted_at /secure/tang
took_ms=$((($(date +%s%N) - started) / 1000000))
echo "attach to mounted through tang: $took_ms ms"
check "attached, it was unlocked through tang and mounted, no passphrase typed" \
    test "$took_ms" -le 30000
echo data-behind-tang >/secure/tang/file
vaultctl lock "$dev" >/dev/null
lab_detach tang
wait_gone "$dev"

# The server is down: the volume waits for a passphrase, and says why.
systemctl stop tangd.socket
dev=$(lab_attach tang 256M nvme "$vol")
wait_state "$dev" locked
failed_with_reason() {
    [[ $(volume_field "$dev" configurationError) == KeyServerUnavailable:* ]]
}
wait_for 60 failed_with_reason
vaultctl status "$dev"
check "with tang down the volume stays locked" volume_is "$dev" locked
check "and says the key server did not answer" \
    bash -c "vaultctl status $dev | grep -q 'no key server gave the key'"
vaultctl unlock "$dev" --key-file "$KEY_FILE" --mount >/dev/null
check "it opens by hand" test "$(cat "$(volume_field "$dev" mountPoint)/file")" = data-behind-tang
vaultctl lock "$dev" >/dev/null

expect_error KeyServerUnavailable vaultctl --json unlock "$dev" --token

# tang is back: vaultctl unlock tries the token first and asks for nothing.
systemctl start tangd.socket
vaultctl unlock "$dev" --mount </dev/null
check "with tang back, vaultctl unlock opened it with no passphrase" volume_is "$dev" mounted
vaultctl lock "$dev" >/dev/null

# Unbinding: the slot and its token go.
vaultctl unbind "$dev" --key-file "$KEY_FILE"
vaultctl keyslot list "$dev" | tee slots.txt
check "unbound, no slot is clevis's" bash -c '! grep -q token:clevis slots.txt'
check "and clevis sees no binding" bash -c "test -z \"\$(clevis luks list -d /dev/$dev)\""

# A binding clevis made itself, with an sss pin over tang, opens through
# vaultd as well.
clevis luks bind -y -k "$KEY_FILE" -d "/dev/$dev" sss \
    "{\"t\":1,\"pins\":{\"tang\":[{\"url\":\"$url\",\"thp\":\"$thp\"}]}}"
vaultctl keyslot list "$dev" | tee slots.txt
check "clevis's own slot shows as token:clevis" grep -q token:clevis slots.txt
lab_detach tang
wait_gone "$dev"
dev=$(lab_attach tang 256M nvme "$vol")
wait_for 30 mounted_at /secure/tang
check "a volume clevis bound with an sss pin opened on attach, no passphrase typed" \
    test "$(cat /secure/tang/file)" = data-behind-tang
vaultctl lock "$dev" >/dev/null
lab_detach tang
