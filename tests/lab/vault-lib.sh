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
# first_answers ROUNDS OUT TIMEOUT_S DAEMON...
#                           for the benchmarks: each daemon's time from its
#                           start to its first answer on the bus, timed by
#                           one D-Bus client (see below)
# answered_ms OUT LABEL, answered_pid OUT LABEL
#                           from first_answers' OUT: the median time to the
#                           first answer, and the last instance's pid
# stop_pid PID              SIGTERM, and wait until the process is gone
# loop_volume FILE SIZE     a loop device on a new FILE of SIZE, formatted by
#                           vaultd (ext4, the key file) and locked; prints
#                           its kernel name (loop3)
# blank_loops COUNT         COUNT more loop devices on blank 16 MiB files,
#                           once udev has seen them

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

# For the benchmarks: how long a daemon takes from its start to its first
# answer on the bus, timed the same way for vaultd and udisksd by one
# long-lived client (python3-dbus on a GLib main loop) rather than by
# polling with busctl, which costs 100-500 ms a call under TCG. For each
# round, each DAEMON in turn: the client is already subscribed to
# NameOwnerChanged for the daemon's bus name; it takes the clock, spawns
# the daemon (stdin /dev/null, output appended to its log, a session of
# its own), notes when the name gets an owner, asks the owner at once for
# GetManagedObjects on the daemon's object manager and stops the clock when
# the reply arrives (before decoding it). A DAEMON is vaultd, vaultd:N (the
# reply must hold N volumes, else it asks again 10 ms later, and the time
# is that of the first reply that does) or udisksd. Each instance is
# stopped (SIGTERM, then the client waits until it has exited and its name
# is gone) before the next one starts, except in the last round: the last
# instance of each is left running, having answered one GetManagedObjects.
# vaultd, if running, is stopped first. Each sample gets a line of the log
# and a line "LABEL ROUND NAME_MS ANSWER_MS CALLS PID" in OUT; TIMEOUT_S
# bounds each sample.
first_answers() {
    local rounds=$1 out=$2 timeout=$3 spec args=()
    shift 3
    python3 -c 'import dbus, gi' 2>/dev/null ||
        fail "first_answers needs python3-dbus and python3-gi (tests/bench/run installs them)"
    for spec; do
        ((${#args[@]} == 0)) || args+=(--)
        case $spec in
            vaultd | vaultd:*)
                local want=-
                [[ $spec == vaultd ]] || want="${spec#vaultd:}:org.vaultd.Vault1.Volume"
                args+=(vaultd org.vaultd.Vault1 /org/vaultd/Vault1 "$LAB_VAULTD_LOG" "$want"
                    "$LAB_BUILD/daemon/vaultd" --config /etc/vaultd/vaultd.conf)
                ;;
            udisksd)
                args+=(udisksd org.freedesktop.UDisks2 /org/freedesktop/UDisks2 "$PWD/udisksd.log" -
                    /usr/libexec/udisks2/udisksd --no-debug)
                ;;
            *) fail "first_answers: no daemon '$spec'" ;;
        esac
    done
    stop_vaultd_now
    python3 - "$rounds" "$out" "$timeout" "${args[@]}" <<'PY' || fail "first_answers: the client failed"
import signal, statistics, subprocess, sys, time
import dbus, dbus.lowlevel, dbus.mainloop.glib
from gi.repository import GLib

rounds, out_path, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
daemons, group = [], []
for word in sys.argv[4:] + ["--"]:
    if word != "--":
        group.append(word)
        continue
    label, name, path, log, want, *argv = group
    if want != "-":
        count, iface = want.split(":", 1)
        want = (int(count), iface)
    else:
        want = None
    daemons.append(dict(label=label, name=name, path=path, log=log, want=want, argv=argv))
    group = []

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SystemBus()
loop = GLib.MainLoop()
current = None  # the sample under way


def ms(t, since):
    return (t - since) * 1000


def ask(s):
    if current is not s:
        return False
    s["calls"] += 1
    call = dbus.lowlevel.MethodCallMessage(s["name"], s["path"], "org.freedesktop.DBus.ObjectManager",
                                           "GetManagedObjects")
    bus.send_message_with_reply(call, lambda reply: answered(s, reply), timeout, require_main_loop=True)
    return False  # as a GLib timeout: once


def answered(s, reply):
    t = time.perf_counter()
    if current is not s:
        return
    if isinstance(reply, dbus.lowlevel.ErrorMessage):
        s["error"] = f"GetManagedObjects failed: {reply.get_error_name()} {reply.get_args_list()}"
        loop.quit()
        return
    s.setdefault("first", t)
    if s["want"]:
        count, iface = s["want"]
        s["have"] = sum(1 for interfaces in reply.get_args_list()[0].values() if iface in interfaces)
        if s["have"] < count:
            GLib.timeout_add(10, ask, s)
            return
    s["answer"] = t
    loop.quit()


def owner_changed(name, old, new):
    t = time.perf_counter()
    s = current
    if s is None or name != s["name"] or not new or "named" in s:
        return
    s["named"] = t
    ask(s)


for name in {d["name"] for d in daemons}:
    bus.add_signal_receiver(owner_changed, signal_name="NameOwnerChanged",
                            dbus_interface="org.freedesktop.DBus", bus_name="org.freedesktop.DBus",
                            path="/org/freedesktop/DBus", arg0=name)


def wait_unowned(name, limit=10):
    deadline = time.monotonic() + limit
    while bus.name_has_owner(name):
        if time.monotonic() > deadline:
            sys.exit(f"first_answers: {name} still has an owner after {limit} s")
        time.sleep(0.01)


def stop(proc, name):
    t = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        sys.exit(f"first_answers: pid {proc.pid} ignored SIGTERM for 60 s; killed it")
    wait_unowned(name)
    return ms(time.perf_counter(), t)


def sample(d, r):
    global current
    wait_unowned(d["name"])
    s = dict(d, calls=0)
    log = open(d["log"], "ab")
    current = s
    started = time.perf_counter()
    proc = subprocess.Popen(d["argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()

    def watch():
        if current is not s:
            return False
        if proc.poll() is not None:
            s["error"] = f"exited with status {proc.returncode} before answering (see {d['log']})"
        elif time.perf_counter() - started > timeout:
            s["error"] = f"no answer after {timeout:.0f} s"
        else:
            return True
        loop.quit()
        return False

    GLib.timeout_add(100, watch)
    loop.run()
    current = None
    if "error" in s:
        print(f"{d['label']} {r}/{rounds}: {s['error']}", flush=True)
        if proc.poll() is None:
            stop(proc, d["name"])
        sys.exit(1)
    named, answer = ms(s["named"], started), ms(s["answer"], started)
    line = f"{d['label']} {r}/{rounds}: name after {named:.1f} ms, first answer after {answer:.1f} ms"
    if d["want"]:
        line += f" holding {s['have']} volumes"
    if s["calls"] > 1:
        line += f" ({s['calls']} calls, the first answered after {ms(s['first'], started):.1f} ms)"
    line += f", pid {proc.pid}"
    with open(out_path, "a") as out:
        out.write(f"{d['label']} {r} {named:.1f} {answer:.1f} {s['calls']} {proc.pid}\n")
    if r < rounds:
        line += f"; stopped in {stop(proc, d['name']):.0f} ms"
    print(line, flush=True)
    s.update(named_ms=named, answer_ms=answer)
    return s


samples = []
for r in range(1, rounds + 1):
    for d in daemons:
        samples.append(sample(d, r))
for label in dict.fromkeys(d["label"] for d in daemons):
    mine = [s for s in samples if s["label"] == label]
    print(f"{label}: median of {len(mine)}: name after {statistics.median(s['named_ms'] for s in mine):.1f} ms,"
          f" first answer after {statistics.median(s['answer_ms'] for s in mine):.1f} ms", flush=True)
PY
}

answered_ms() {
    local values
    values=$(awk -v l="$2" '$1 == l { print $4 }' "$1")
    [[ -n $values ]] || fail "no sample of $2 in $1"
    # shellcheck disable=SC2086 # one value a line
    printf '%.0f\n' "$(median $values)"
}

answered_pid() {
    awk -v l="$2" '$1 == l { pid = $6 } END { print pid }' "$1"
}

# A process started elsewhere (not this shell's child): gone once it has
# exited, even if not reaped yet.
pid_gone() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [[ ${stat%% *} == Z ]]
}

stop_pid() {
    pid_gone "$1" && return 0
    kill -TERM "$1" 2>/dev/null || return 0
    wait_for 60 pid_gone "$1"
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

loop_volume() {
    local loop
    truncate -s "$2" "$1"
    loop=$(losetup -f --show "$1")
    wait_state "${loop#/dev/}" empty
    vaultctl format "${loop#/dev/}" --fs ext4 --key-file "$KEY_FILE" >/dev/null
    wait_state "${loop#/dev/}" locked
    echo "${loop#/dev/}"
}

blank_loops() {
    local i
    for ((i = 0; i < $1; i++)); do
        truncate -s 16M "blank$i.img"
        losetup -f "blank$i.img"
    done
    udevadm settle
}
