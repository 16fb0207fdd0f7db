# Long operations as Job objects: a format with --erase shows its job on
# the bus (operation, volume, stage, bytes, fraction rising), only its
# starter or root may cancel it, a cancelled erase leaves a locked LUKS
# volume without filesystem that format can redo, and vaultctl shows a
# progress bar on a terminal (nothing but the result elsewhere), and cancels
# the erase on Ctrl-C.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
ensure_users

job_interface=org.vaultd.Vault1.Job

the_job() {
    busctl --system --list tree org.vaultd.Vault1 | grep '^/org/vaultd/Vault1/job/' | head -1
}

job_property() {
    busctl --system get-property org.vaultd.Vault1 "$1" "$job_interface" "$2" | cut -d' ' -f2-
}

erasing_started() {
    local job
    job=$(the_job) || return 1
    [[ -n $job && $(job_property "$job" Stage) == '"erasing"' ]] &&
        (($(job_property "$job" BytesDone) > 0))
}

fraction_above() {
    awk -v now="$(job_property "$1" Fraction)" -v then="$2" 'BEGIN { exit !(now > then) }'
}

no_job() {
    [[ -z $(the_job) ]]
}

dev=$(lab_attach erasebig 1G virtio)
wait_state "$dev" empty
path=$(busctl --system call org.vaultd.Vault1 /org/vaultd/Vault1 org.vaultd.Vault1.Manager \
    Resolve s "$dev" | cut -d'"' -f2)

busctl --system monitor --match "type='signal',interface='$job_interface',member='Completed'" \
    >completed.log 2>&1 &
monitor=$!
busctl --system monitor --match "type='signal',path='/org/vaultd/Vault1',member='InterfacesAdded'" \
    >added.log 2>&1 &
added_monitor=$!
vaultctl format "$dev" --erase --key-file "$KEY_FILE" >format.out 2>format.err &
format=$!
wait_for 60 erasing_started
job=$(the_job)
echo "job: $job"
check "the job is a format" test "$(job_property "$job" Operation)" = '"format"'
check "of this volume" test "$(job_property "$job" Volume)" = "\"$path\""
check "started by root" test "$(job_property "$job" StartedBy)" = 0
check "it counts the mapping's bytes" \
    test "$(job_property "$job" BytesTotal)" = $(((1024 - 16) << 20))
check "and can be cancelled" test "$(job_property "$job" Cancellable)" = true
first=$(job_property "$job" Fraction)
wait_for 60 fraction_above "$job" "$first"
echo "fraction $first, then $(job_property "$job" Fraction); rate $(job_property "$job" Rate) B/s"
check "it expects to end" test "$(job_property "$job" ExpectedEnd)" -gt 0

if out=$(setpriv --reuid=intruder --regid=intruder --init-groups \
    busctl --system call org.vaultd.Vault1 "$job" "$job_interface" Cancel 'a{sv}' 0 2>&1); then
    fail "another user cancelled root's format"
fi
echo "$out"
check "another user may not cancel it" grep -q "only the caller that started" <<<"$out"
check "and it goes on" test "$(job_property "$job" Stage)" = '"erasing"'

busctl --system call org.vaultd.Vault1 "$job" "$job_interface" Cancel 'a{sv}' 0
status=0
wait "$format" || status=$?
cat format.err
check "the format failed" test "$status" -ne 0
check "saying it was cancelled while erasing" grep -q "cancelled while erasing" format.err
check "and how to start over" grep -q -- "--force /dev/$dev:" format.err
check "nothing but that on stderr off a terminal" bash -c "! grep -q 'erasing \[' format.err"
wait_for 10 no_job
check "the temporary mapping is closed" bash -c "! dmsetup ls | grep -q vaultd-format"
wait_state "$dev" locked
check "what is left is LUKS without a filesystem" \
    test "$(volume_field "$dev" filesystemType)" = ""
wait_for 10 grep -q "BOOLEAN false" completed.log
check "Completed said it failed" grep -q "cancelled while erasing" completed.log

size=$(blockdev --getsize64 "/dev/$dev")
vaultctl format "$dev" --force "/dev/$dev:$size" --key-file "$KEY_FILE" >/dev/null
vaultctl unlock "$dev" --name erasebig --mount --key-file "$KEY_FILE" >/dev/null
echo "after the cancel" >/media/vault/erasebig/note
check "formatted again, it opens and holds data" \
    test "$(cat /media/vault/erasebig/note)" = "after the cancel"
vaultctl lock "$dev" >/dev/null
check "the unlock had a job too" grep -q 'STRING "unlock"' added.log
check "and so did the formats" grep -q 'STRING "format"' added.log

# On a terminal: the bar, then the result; a whole erase zeroes the data
# area under the filesystem (read through the mapping).
small=$(lab_attach erasesmall 256M virtio)
wait_state "$small" empty
tr '\0' '\252' </dev/zero | dd of="/dev/$small" bs=1M count=256 iflag=fullblock status=none
shown=$(on_tty "" vaultctl format "$small" --erase --key-file "$KEY_FILE")
printf '%s\n' "$shown" | tr '\r' '\n' | tail -5
check "a progress bar while erasing" grep -q "erasing \[#*\.*\] *[0-9]*%" <<<"$shown"
check "with the bytes" grep -q "of 240.0M" <<<"$shown"
check "then the result" grep -q "formatted /dev/$small" <<<"$shown"
wait_for 10 grep -q "BOOLEAN true" completed.log
vaultctl unlock "$small" --name erasesmall --key-file "$KEY_FILE" >/dev/null
# The disk held a pattern of 0xaa bytes, which without the erase would read
# through the mapping as noise; the filesystem leaves its last MiBs alone.
check "the end of the data area reads as zeros through the mapping" bash -c \
    "dd if=/dev/mapper/erasesmall bs=1M skip=236 count=4 status=none | cmp -n $((4 << 20)) - /dev/zero"
vaultctl lock "$small" >/dev/null

# Ctrl-C on the terminal cancels the erase, and vaultctl says so.
big_size=$(blockdev --getsize64 "/dev/$dev")
status=0
out=$(TTY_INTERRUPT="Ctrl-C cancels" on_tty "" vaultctl format "$dev" --erase \
    --force "/dev/$dev:$big_size" --key-file "$KEY_FILE") || status=$?
printf '%s\n' "$out" | tr '\r' '\n' | tail -4
check "Ctrl-C asked vaultd to cancel" grep -q "cancelling erasing" <<<"$out"
check "which it did" grep -q "cancelled while erasing" <<<"$out"
check "and vaultctl failed" test "$status" -ne 0
wait_state "$dev" locked
wait_for 10 no_job

kill "$monitor" "$added_monitor" 2>/dev/null || true
lab_detach erasesmall
lab_detach erasebig
