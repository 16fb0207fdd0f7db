# vaultctl's bash completion against a real vaultd: a Tab after 'unlock'
# offers the locked volume and not the mounted one, after 'lock' the
# mounted one by its mapping name, and after 'format' the empty disk.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

# What a Tab at the end of "vaultctl WORDS..." offers, one per line.
tab() {
    bash --norc -c 'source "$1"; shift
        COMP_WORDS=(vaultctl "$@"); COMP_CWORD=$#
        _vaultctl; printf "%s\n" "${COMPREPLY[@]}" | sort' \
        - "$LAB_REPO/client/completion/vaultctl" "$@"
}

locked=$(lab_attach complocked 256M)
mounted=$(lab_attach compmounted 256M)
blank=$(lab_attach compblank 256M)
for dev in "$locked" "$mounted"; do
    wait_state "$dev" empty
    vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
done
vaultctl unlock "$mounted" --name compdev --mount --key-file "$KEY_FILE"
wait_state "$mounted" mounted

tab unlock '' | tee unlock.txt
check "unlock offers the locked volume" grep -qx "$locked" unlock.txt
check "unlock does not offer the mounted one" bash -c "! grep -qx '$mounted' unlock.txt"
tab lock '' | tee lock.txt
check "lock offers the mounted volume's mapping name" grep -qx compdev lock.txt
check "lock does not offer the locked one" bash -c "! grep -qx '$locked' lock.txt"
tab format '' | tee format.txt
check "format offers the empty disk" grep -qx "$blank" format.txt
check "format offers no LUKS volume" bash -c "! grep -qxE '$locked|$mounted' format.txt"
check "unlock's options" test "$(tab unlock "$locked" --n | tr '\n' ' ')" = "--name --no-ask-password --no-token "

vaultctl lock compdev
for disk in complocked compmounted compblank; do
    lab_detach "$disk"
done
