# vaultd helpers for lab scenarios, on top of guest/lib.sh:
#
#     source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
#
# volume_field DEV KEY      a property from 'vaultctl status --json'
# wait_state DEV STATE      until the volume reports STATE (30 s)
# wait_gone DEV             until the volume object is gone (30 s)
# expect_error NAME CMD...  CMD (a vaultctl command) fails with the named
#                           error org.vaultd.Vault1.Error.NAME
# fingerprint DEV           a checksum of the first 32 MiB and the last MiB,
#                           to show that a refused request wrote nothing
# expect_refused CMD...     CMD fails with NotAuthorized or AuthenticationRequired
# ensure_users              ec2-user (in group vault) and intruder exist
# as_user USER CMD...       CMD as USER with its groups, no terminal
# on_tty ANSWERS CMD...     CMD on a pseudo-terminal, answering each prompt
# no_crypt_mapping          no dm-crypt mapping exists at all
# no_volume_key_in_kernel   no cryptsetup key is left in any keyring
# start_writer DIR          write 256 KiB files of random bytes into DIR until
#                           stopped, each one's checksum kept outside it
# written                   how many files the writer has finished
# stop_writer               stop it after the file it is writing
# verify_written DIR        every file written reads back with its checksum
# fs_size MOUNTPOINT        the filesystem's size in bytes, as df shows it
# stop_vaultd_now           SIGTERM to vaultd, and wait until it has exited
# restart_vaultd            start vaultd again, as guest/run does, and wait
#                           until it owns its name
# now_ms, median ...        for the benchmarks: the clock in ms, a median

source "$(dirname "${BASH_SOURCE[0]}")/guest/lib.sh"

KEY_FILE=$PWD/passphrase
printf '%s' 'correct horse battery staple' >"$KEY_FILE"
WRONG_KEY=$PWD/wrong-passphrase
printf '%s' 'incorrect horse' >"$WRONG_KEY"

volume_field() {
    vaultctl --json status "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

volume_is() {
    [[ $(volume_field "$1" state 2>/dev/null) == "$2" ]]
}

wait_state() {
    wait_for 30 volume_is "$1" "$2"
}

volume_absent() {
    ! vaultctl status "$1" >/dev/null 2>&1
}

wait_gone() {
    wait_for 30 volume_absent "$1"
}

expect_error() {
    local name=$1 out status=0
    shift
    out=$("$@" 2>&1) || status=$?
    echo "$out" >&2
    ((status != 0)) || fail "expected $name from '$*', but it succeeded"
    [[ $out == *"org.vaultd.Vault1.Error.$name"* ]] ||
        fail "expected org.vaultd.Vault1.Error.$name from '$*', got: $out"
    echo "ok: '$*' fails with $name"
}

expect_refused() {
    local out status=0
    out=$("$@" 2>&1) || status=$?
    echo "$out" >&2
    ((status != 0)) || fail "expected a refusal from '$*', but it succeeded"
    [[ $out == *"org.vaultd.Vault1.Error.NotAuthorized"* ||
        $out == *"org.vaultd.Vault1.Error.AuthenticationRequired"* ]] ||
        fail "expected NotAuthorized or AuthenticationRequired from '$*', got: $out"
    echo "ok: '$*' is refused"
}

ensure_users() {
    getent group vault >/dev/null || groupadd --system vault
    getent passwd ec2-user >/dev/null || useradd --create-home --groups vault ec2-user
    getent passwd intruder >/dev/null || useradd --create-home intruder
}

as_user() {
    local user=$1 program
    shift
    # --reset-env gives the user's own environment, whose PATH lacks the build.
    program=$(command -v "$1")
    shift
    setpriv --reuid="$user" --regid="$user" --init-groups --reset-env -- "$program" "$@"
}

fingerprint() {
    local dev=/dev/$1 size
    size=$(blockdev --getsize64 "$dev")
    {
        head -c $((32 << 20)) "$dev"
        tail -c $((1 << 20)) "$dev"
    } | sha256sum | cut -d' ' -f1
    echo "$size"
}

start_writer() {
    local dir=$1
    : >"$PWD/written.sums"
    rm -f "$PWD/writer.stop"
    (
        set +e
        i=0
        # A cap well inside a 1 GiB filesystem, should the writer run long.
        while [[ ! -e $PWD/writer.stop ]] && ((i < 1600)); do
            sum=$(head -c 262144 /dev/urandom | tee "$dir/w$i" | sha256sum) || break
            echo "${sum%% *}  w$i" >>"$PWD/written.sums"
            i=$((i + 1))
        done
    ) &
    WRITER_PID=$!
}

written() {
    wc -l <"$PWD/written.sums"
}

stop_writer() {
    touch "$PWD/writer.stop"
    wait "$WRITER_PID"
}

verify_written() {
    (cd "$1" && sha256sum --quiet --check "$OLDPWD/written.sums")
}

fs_size() {
    df -B1 --output=size "$1" | tail -n 1 | tr -d ' '
}

no_crypt_mapping() {
    local uuid
    for uuid in /sys/class/block/dm-*/dm/uuid; do
        [[ -e $uuid ]] || continue
        [[ $(<"$uuid") != CRYPT-* ]] || return 1
    done
}

no_volume_key_in_kernel() {
    if grep 'cryptsetup:' /proc/keys >&2; then
        return 1
    fi
}

luks_magic() {
    [[ $(head -c 6 "/dev/$1" | od -An -tx1 | tr -d ' \n') == 4c554b53babe ]]
}

# Runs a command on a pseudo-terminal, answering each passphrase prompt with
# the next of ANSWERS (comma separated); prints what the terminal showed.
# With TTY_INTERRUPT set, types Ctrl-C once the terminal shows that text.
on_tty() {
    local answers=$1
    shift
    TTY_INTERRUPT=${TTY_INTERRUPT:-} python3 - "$answers" "$@" <<'PY'
import os, pty, select, sys, termios, time

answers = sys.argv[1].split(",")
interrupt = os.environ["TTY_INTERRUPT"].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
shown = b""
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    shown += chunk
    if interrupt and interrupt in shown:
        os.write(fd, b"\x03")
        interrupt = b""
    if shown.rstrip().endswith(b":") and answers:
        # A prompt may be printed before echo goes off (pkttyagent does
        # that): answer once the terminal stops echoing, or after 5 s.
        deadline = time.monotonic() + 5
        while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
            select.select([], [], [], 0.01)
        os.write(fd, answers.pop(0).encode() + b"\n")
        shown += b"<answered>\n"
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
}

# Stops vaultd with SIGTERM (it locks what it unlocked) and waits until it
# is gone; restart_vaultd starts it again as guest/run does.
stop_vaultd_now() {
    local pid
    pid=$(pgrep -x vaultd) || return 0
    kill -TERM "$pid"
    wait_for 60 bash -c "! kill -0 $pid 2>/dev/null"
}

# For the benchmarks: the wall clock in milliseconds, and the median of
# its arguments.
now_ms() {
    echo $((${EPOCHREALTIME/./} / 1000))
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

vaultd_has_name() {
    busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s org.vaultd.Vault1 2>/dev/null | grep -qx 'b true'
}

restart_vaultd() {
    setsid "$LAB_BUILD/daemon/vaultd" --config /etc/vaultd/vaultd.conf \
        >>"$LAB_VAULTD_LOG" 2>&1 </dev/null &
    wait_for 60 vaultd_has_name
}

# For the benchmarks: the guest's environment is the lab's own, so
# tests/bench/run passes its settings (BENCH_CYCLES=1000, ...) as NAME=VALUE
# lines in $LAB_OUT/bench.env; bench_settings reads them, if the file is
# there.
bench_settings() {
    if [[ -f $LAB_OUT/bench.env ]]; then
        # shellcheck source=/dev/null
        source "$LAB_OUT/bench.env"
    fi
}
