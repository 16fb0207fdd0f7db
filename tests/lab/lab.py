#!/usr/bin/python3
"""Run vaultd's lab scenarios in a qemu guest that has a real kernel.

    lab.py --build-dir BUILD --out OUTDIR [SCENARIO ...]

The build machine's own kernel has no device-mapper, so the lab boots
Debian's kernel under TCG: one guest for each run of consecutive scenarios
that want the same memory (DEFAULT_MEMORY_MIB unless a scenario says
otherwise), one guest after another. A guest sees the host's root read-only
over 9p under a tmpfs overlay: it runs the host's binaries and this
repository's build at their host paths, and writes its logs straight into
OUTDIR (a second, writable 9p share).

Scenarios (tests/lab/scenarios/NAME.sh) ask the host, over a virtio-serial
port, to attach, grow and detach disks; the harness does it through QMP, as a
cloud provider attaches EBS volumes to an instance. See tests/lab/README.md.

Python 3.11 standard library only.
"""

import argparse
import dataclasses
import gzip
import hashlib
import inspect
import json
import lzma
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parent.parent
GUEST_DIR = LAB_DIR / "guest"
SCENARIO_DIR = LAB_DIR / "scenarios"

# Just enough to mount the host's root over 9p and put an overlay on it; the
# guest loads everything else from the shared /lib/modules.
INITRAMFS_MODULES = ["9p", "9pnet_virtio", "virtio_pci", "overlay"]

CTL_PORT_NAME = "lab.ctl"
SCSI_BUS = "scsi0.0"
LOG_TAIL_LINES = 40
# After the guest says it is done, powering off takes a second or two.
POWEROFF_GRACE_S = 60
# Guest memory for a scenario that declares none. TCG allocates guest memory
# as the guest touches it, so a generous size costs little.
DEFAULT_MEMORY_MIB = 4096
# What each guest writes to OUTDIR besides the scenarios' logs.
GUEST_LOGS = ("console", "vaultd", "dmesg")
QMP_TIMEOUT_S = 30
# PCI unplug needs the guest to answer ACPI; TCG can be slow at it.
UNPLUG_TIMEOUT_S = 90


class LabError(Exception):
    """A failure with a message meant for the person running the lab."""


def say(message):
    print(f"lab: {message}", flush=True)


# --------------------------------------------------------------------------
# Kernel and initramfs


def version_key(text):
    """Sort key that orders 6.1.0-10 after 6.1.0-9."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def find_kernel():
    kernels = sorted(Path("/boot").glob("vmlinuz-*"), key=lambda p: version_key(p.name))
    if not kernels:
        raise LabError("no /boot/vmlinuz-*: install linux-image-amd64")
    kernel = kernels[-1]
    version = kernel.name.removeprefix("vmlinuz-")
    if not (Path("/lib/modules") / version / "modules.dep").is_file():
        raise LabError(f"{kernel} has no modules in /lib/modules/{version}")
    return kernel, version


def find_tool(name):
    # Root's PATH usually has the sbin directories, but not every caller's does.
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    found = shutil.which(name, path=path)
    if not found:
        raise LabError(f"{name} not found")
    return found


def module_paths(version):
    """The .ko files for INITRAMFS_MODULES, dependencies first."""
    result = subprocess.run(
        [find_tool("modprobe"), "-a", "-S", version, "--show-depends", *INITRAMFS_MODULES],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"modprobe --show-depends failed: {result.stderr.strip()}")
    paths = []
    for line in result.stdout.splitlines():
        words = line.split()
        if words[:1] == ["insmod"] and Path(words[1]) not in paths:
            paths.append(Path(words[1]))
    return paths


def module_bytes(path):
    """Module contents, decompressed: busybox's insmod takes plain .ko only."""
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    if path.suffix == ".zst":
        return subprocess.run([find_tool("zstd"), "-dc", str(path)],
                              capture_output=True, check=True).stdout
    return path.read_bytes()


def module_name(path):
    name = path.name
    for suffix in (".xz", ".gz", ".zst"):
        name = name.removesuffix(suffix)
    return name


def is_static_elf(path):
    """True for a 64-bit ELF without a program interpreter (PT_INTERP)."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:5] != b"\x7fELF\x02":
            return False
        phoff = int.from_bytes(header[32:40], "little")
        phentsize = int.from_bytes(header[54:56], "little")
        phnum = int.from_bytes(header[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    types = (int.from_bytes(table[i:i + 4], "little") for i in range(0, len(table), phentsize))
    return 3 not in types


def find_busybox():
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(candidate) and is_static_elf(candidate):
            return Path(candidate)
    raise LabError("no statically linked busybox: install busybox-static")


class Cpio:
    """Writes a newc cpio archive in memory.

    Writing the archive ourselves lets the initramfs carry /dev/console
    without mknod, and keeps it reproducible (all times and owners zero).
    """

    def __init__(self):
        self.data = bytearray()
        self.inode = 0

    def directory(self, name):
        self._entry(name, 0o040755)

    def file(self, name, content, mode=0o644):
        self._entry(name, 0o100000 | mode, content)

    def char_device(self, name, major, minor):
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.data)

    def _entry(self, name, mode, content=b"", rdev=(0, 0)):
        self.inode += 1
        encoded = name.encode() + b"\0"
        fields = [self.inode, mode, 0, 0, 1, 0, len(content), 0, 0, *rdev, len(encoded), 0]
        self.data += b"070701" + b"".join(b"%08X" % field for field in fields)
        self.data += encoded
        self._pad()
        self.data += content
        self._pad()

    def _pad(self):
        self.data += b"\0" * (-len(self.data) % 4)


def file_stamp(path):
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def content_hash(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def initramfs_image(busybox, modules):
    cpio = Cpio()
    for directory in ("bin", "dev", "proc", "sys", "modules"):
        cpio.directory(directory)
    # The kernel opens it for init's stdio before devtmpfs is mounted.
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    cpio.file("init", (GUEST_DIR / "init").read_bytes(), 0o755)
    order = []
    for index, path in enumerate(modules):
        name = f"{index:02d}-{module_name(path)}"
        cpio.file(f"modules/{name}", module_bytes(path))
        order.append(name)
    cpio.file("modules/order", "".join(f"{name}\n" for name in order).encode())
    return cpio.finish()


def cached(path, inputs, make):
    """Returns (path, remade): remakes the file with make() when its inputs changed."""
    key_file = path.with_name(path.name + ".key")
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    if path.is_file() and key_file.is_file() and key_file.read_text() == key:
        return path, False
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(make())
    os.replace(partial, path)
    key_file.write_text(key)
    return path, True


def build_initramfs(cache_dir, version):
    busybox = find_busybox()
    modules = module_paths(version)
    inputs = {
        "kernel": version,
        "busybox": file_stamp(busybox),
        "modules": [file_stamp(m) for m in modules],
        "init": content_hash(GUEST_DIR / "init"),
        # This file lays the image out.
        "builder": content_hash(Path(__file__)),
    }
    return cached(cache_dir / "initramfs.cpio", inputs, lambda: initramfs_image(busybox, modules))


def bzimage_payload(data):
    """The compressed kernel inside a bzImage (boot protocol 2.08 and later)."""
    if data[0x202:0x206] != b"HdrS":
        raise LabError("not a bzImage")
    setup_sectors = data[0x1f1] or 4
    offset, length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sectors + 1) * 512 + offset
    return data[start:start + length]


def decompress_kernel(path):
    payload = bzimage_payload(path.read_bytes())
    if payload.startswith(b"\xfd7zXZ\0"):
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        elf = zlib.decompressobj(wbits=31).decompress(payload)
    else:
        raise LabError(f"kernel compressed as {payload[:4].hex()}, not xz or gzip")
    if not elf.startswith(b"\x7fELF"):
        raise LabError("the decompressed kernel is not an ELF file")
    return elf


def boot_kernel(cache_dir, kernel, version):
    """The kernel to hand qemu: uncompressed if it has a PVH entry point,
    which qemu jumps to directly, saving ~4 s of decompression under TCG."""
    config = Path("/boot") / f"config-{version}"
    if not config.is_file() or "CONFIG_PVH=y" not in config.read_text().splitlines():
        return kernel, False
    try:
        return cached(cache_dir / f"vmlinux-{version}", {"kernel": file_stamp(kernel)},
                      lambda: decompress_kernel(kernel))
    except LabError as error:
        say(f"booting the compressed {kernel}: {error}")
        return kernel, False


# --------------------------------------------------------------------------
# QMP


class QmpError(LabError):
    pass


def connect_unix(path, qemu, timeout):
    """Connects to a socket qemu listens on, once it exists."""
    deadline = time.monotonic() + timeout
    while True:
        if qemu.poll() is not None:
            raise LabError(f"qemu exited with status {qemu.returncode} before opening {path}")
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise LabError(f"qemu did not open {path} within {timeout} s")
            time.sleep(0.05)


class Qmp:
    """A small QMP client: one command in flight at a time; events are kept
    so that a waiter also finds an event that arrived before it started."""

    def __init__(self, sock):
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.cond = threading.Condition()
        self.command_lock = threading.Lock()
        self.replies = {}
        self.events = []
        self.closed = False
        self.next_id = 0
        threading.Thread(target=self._read, name="qmp", daemon=True).start()
        self.execute("qmp_capabilities")

    def execute(self, command, arguments=None):
        with self.command_lock:
            self.next_id += 1
            request_id = self.next_id
            message = {"execute": command, "arguments": arguments or {}, "id": request_id}
            self.sock.sendall(json.dumps(message).encode() + b"\n")
            reply = self._wait(lambda: self.replies.pop(request_id, None), QMP_TIMEOUT_S,
                               f"the reply to {command}")
        if "error" in reply:
            raise QmpError(f"{command}: {reply['error'].get('desc', reply['error'])}")
        return reply["return"]

    def event_mark(self):
        """A position in the event history, for wait_event(since=...)."""
        with self.cond:
            return len(self.events)

    def wait_event(self, name, since, timeout, **data):
        def find():
            for event in self.events[since:]:
                fields = event.get("data", {})
                if event["event"] == name and all(fields.get(k) == v for k, v in data.items()):
                    return event
            return None
        return self._wait(find, timeout, f"QMP event {name} {data}")

    def _wait(self, find, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while (found := find()) is None:
                left = deadline - time.monotonic()
                if self.closed:
                    raise QmpError(f"QMP connection closed while waiting for {what}")
                if left <= 0:
                    raise QmpError(f"no {what} within {timeout} s")
                self.cond.wait(left)
            return found

    def _read(self):
        for line in self.reader:
            message = json.loads(line)
            with self.cond:
                if "event" in message:
                    self.events.append(message)
                elif "id" in message:
                    self.replies[message["id"]] = message
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()


# --------------------------------------------------------------------------
# Disks


DISK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
# virtio-blk and NVMe both keep 20 bytes of serial.
SERIAL = re.compile(r"[A-Za-z0-9_-]{1,20}")
SIZE = re.compile(r"(\d+)([KMGT]?)")
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text):
    match = SIZE.fullmatch(text)
    if not match:
        raise LabError(f"bad size {text!r}: want a number with an optional K, M, G or T")
    size = int(match[1]) * SIZE_UNITS[match[2]]
    if size == 0 or size % 512:
        raise LabError(f"bad size {text!r}: want a non-zero multiple of 512 bytes")
    return size


def device_properties(bus, qdev_id, node, serial):
    common = {"id": qdev_id, "drive": node, "serial": serial}
    if bus == "virtio":
        return {"driver": "virtio-blk-pci", **common}
    if bus == "nvme":
        return {"driver": "nvme", **common}
    if bus == "scsi":
        return {"driver": "scsi-hd", "bus": SCSI_BUS, **common}
    raise LabError(f"bad bus {bus!r}: want virtio, nvme or scsi")


@dataclasses.dataclass
class Disk:
    id: str
    bus: str
    serial: str
    image: Path
    # Whether attach() found the image from an earlier attach.
    reused: bool = False

    @property
    def qdev_id(self):
        return f"lab-{self.id}"

    @property
    def node(self):
        return f"lab-{self.id}-node"


class Disks:
    """The disks attached to the guest, each a sparse raw image file.

    An image outlives a detach, so a scenario can attach the same volume
    again and find its data; reset() forgets them all between scenarios.
    A carried disk's image lives in carried_dir instead, which every guest
    of the run shares: reset() detaches the disk but keeps the image, and a
    later scenario, in this guest or a later one, attaches it as it was.
    """

    def __init__(self, qmp, image_dir, carried_dir):
        self.qmp = qmp
        self.image_dir = image_dir
        self.carried_dir = carried_dir
        self.attached = {}

    def attach(self, disk_id, size, bus, serial, carried=False):
        """Attaches the image for disk_id, made size bytes big if it is new."""
        if not DISK_ID.fullmatch(disk_id):
            raise LabError(f"bad disk id {disk_id!r}: want {DISK_ID.pattern}")
        if not SERIAL.fullmatch(serial):
            raise LabError(f"bad serial {serial!r}: want {SERIAL.pattern}")
        if disk_id in self.attached:
            raise LabError(f"disk {disk_id} is already attached")
        image = (self.carried_dir if carried else self.image_dir) / f"{disk_id}.img"
        disk = Disk(disk_id, bus, serial, image, reused=image.exists())
        device = device_properties(bus, disk.qdev_id, disk.node, serial)
        if not disk.reused:
            with open(disk.image, "wb") as f:
                f.truncate(parse_size(size))
        self.qmp.execute("blockdev-add", {
            "driver": "raw", "node-name": disk.node, "discard": "unmap",
            "file": {"driver": "file", "filename": str(disk.image), "discard": "unmap"},
        })
        try:
            self.qmp.execute("device_add", device)
        except QmpError:
            self.qmp.execute("blockdev-del", {"node-name": disk.node})
            raise
        self.attached[disk_id] = disk
        return disk

    def detach(self, disk_id):
        disk = self._get(disk_id)
        mark = self.qmp.event_mark()
        self.qmp.execute("device_del", {"id": disk.qdev_id})
        # PCI unplug completes only once the guest has let go of the device.
        self.qmp.wait_event("DEVICE_DELETED", mark, UNPLUG_TIMEOUT_S, device=disk.qdev_id)
        self.qmp.execute("blockdev-del", {"node-name": disk.node})
        del self.attached[disk_id]
        return disk

    def detach_many(self, disk_ids):
        """Asks for every unplug at once, then waits for them all."""
        disks = [self._get(disk_id) for disk_id in disk_ids]
        mark = self.qmp.event_mark()
        for disk in disks:
            self.qmp.execute("device_del", {"id": disk.qdev_id})
        for disk in disks:
            self.qmp.wait_event("DEVICE_DELETED", mark, UNPLUG_TIMEOUT_S, device=disk.qdev_id)
            self.qmp.execute("blockdev-del", {"node-name": disk.node})
            del self.attached[disk.id]
        return disks

    def grow(self, disk_id, size):
        disk = self._get(disk_id)
        if disk.bus == "nvme":
            # qemu's NVMe namespace holds its node without sharing resize, and
            # has no way to tell the guest about a new capacity.
            raise LabError("qemu cannot grow an NVMe namespace; grow a virtio or scsi disk")
        new_size = parse_size(size)
        if new_size < disk.image.stat().st_size:
            raise LabError(f"disk {disk_id} is {disk.image.stat().st_size} bytes; will not shrink it")
        self.qmp.execute("block_resize", {"node-name": disk.node, "size": new_size})
        return disk, new_size

    def reset(self):
        """Detaches what is still attached, carried disks too, and deletes
        every image but the carried ones."""
        leftovers = sorted(self.attached)
        for disk_id in leftovers:
            self.detach(disk_id)
        for image in self.image_dir.glob("*.img"):
            image.unlink()
        return leftovers

    def _get(self, disk_id):
        if disk_id not in self.attached:
            raise LabError(f"no disk {disk_id} is attached")
        return self.attached[disk_id]


# --------------------------------------------------------------------------
# The run: results and the guest's requests


class Results:
    """What the guest reported, as it reported it."""

    def __init__(self, scenarios, out_dir):
        self.scenarios = scenarios
        self.out_dir = out_dir
        self.outcomes = {}      # name -> (passed, seconds)
        self.started = {}       # name -> host monotonic time
        self.new_guest()

    def new_guest(self):
        """Starts the clock for a guest about to boot."""
        self.boot_start = time.monotonic()
        self.first_scenario_s = None

    def start(self, name):
        now = time.monotonic()
        if self.first_scenario_s is None:
            self.first_scenario_s = now - self.boot_start
            say(f"guest booted: {self.first_scenario_s:.1f} s from qemu start to the first scenario")
        self.started[name] = now

    def finish(self, name, passed, seconds):
        self.outcomes[name] = (passed, seconds)
        if passed:
            say(f"{name} passed ({seconds:.1f} s)")
            return
        say(f"{name} FAILED (see {self.log_path(name)})")
        print_tail(self.log_path(name))

    def close_unfinished(self, names, reason):
        """Fails those of names that the guest never reported on."""
        for name in names:
            if name in self.outcomes:
                continue
            seconds = time.monotonic() - self.started[name] if name in self.started else 0.0
            with open(self.log_path(name), "a") as log:
                log.write(f"lab: no result from the guest: {reason}\n")
            self.finish(name, False, seconds)

    def log_path(self, name):
        return self.out_dir / f"{name}.log"

    def summary(self):
        entries = [{"name": name, "passed": self.outcomes[name][0],
                    "seconds": round(self.outcomes[name][1], 3)} for name in self.scenarios]
        passed = sum(entry["passed"] for entry in entries)
        return {"scenarios": entries, "passed": passed, "failed": len(entries) - passed}


def print_tail(path, lines=LOG_TAIL_LINES):
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        print(f"    (no {path})", flush=True)
        return
    for line in text[-lines:]:
        print(f"    | {line}", flush=True)


class Control:
    """Serves the guest's requests on the virtio-serial port.

    A request is one line, "SEQ VERB ARG...", and gets one reply line,
    "SEQ ok [WORDS]" or "SEQ error MESSAGE". The guest opens the port per
    request and skips replies whose SEQ is not its own.
    """

    def __init__(self, sock, disks, results, vaultd_log, on_done):
        self.sock = sock
        self.disks = disks
        self.results = results
        self.vaultd_log = vaultd_log
        self.on_done = on_done
        self.verbs = {
            "attach": self.attach, "attach-carried": self.attach_carried,
            "detach": self.detach, "grow": self.grow,
            "storm-attach": self.storm_attach, "storm-detach": self.storm_detach,
            "booted": self.booted, "ready": self.ready, "start": self.start,
            "result": self.result, "reset": self.reset, "done": self.done,
        }

    def serve(self):
        for line in self.sock.makefile("r", errors="replace"):
            words = line.split()
            if len(words) < 2:
                continue
            reply = self.handle(words[1], words[2:])
            self.sock.sendall(f"{words[0]} {reply}\n".encode())

    def handle(self, verb, args):
        handler = self.verbs.get(verb)
        if handler is None:
            return f"error unknown request {verb!r}"
        try:
            inspect.signature(handler).bind(*args)
        except TypeError:
            return f"error wrong arguments for {verb}: {' '.join(args)}"
        try:
            return " ".join(["ok", *handler(*args)])
        except LabError as error:
            return f"error {error}"
        except Exception as error:  # a bug here must not leave the guest waiting
            say(f"internal error serving '{verb} {' '.join(args)}': {error!r}")
            return f"error internal error in lab.py: {error!r}"

    def attach(self, disk_id, size, bus, serial):
        disk = self.disks.attach(disk_id, size, bus, serial)
        return [disk.bus, disk.serial]

    # Like attach, but the image outlives reset() and the guest; the third
    # word says whether it was made now or found as an earlier one left it.
    def attach_carried(self, disk_id, size, bus, serial):
        disk = self.disks.attach(disk_id, size, bus, serial, carried=True)
        return [disk.bus, disk.serial, "reused" if disk.reused else "new"]

    def detach(self, disk_id):
        disk = self.disks.detach(disk_id)
        return [disk.bus, disk.serial]

    # A storm: COUNT disks PREFIX0..PREFIX<COUNT-1>, attached or detached in
    # one request each, as fast as QMP takes them; the guest waits for them.
    def storm_attach(self, prefix, count, size, bus):
        return [self.disks.attach(f"{prefix}{i}", size, bus, f"{prefix}{i}").serial
                for i in range(int(count))]

    def storm_detach(self, prefix, count):
        ids = [f"{prefix}{i}" for i in range(int(count))]
        return [disk.serial for disk in self.disks.detach_many(ids)]

    def grow(self, disk_id, size):
        disk, new_size = self.disks.grow(disk_id, size)
        return [disk.bus, disk.serial, str(new_size)]

    def booted(self, uptime):
        say(f"guest kernel, init and overlay up at {float(uptime):.1f} s guest uptime")
        return []

    def ready(self, uptime, vaultd):
        say(f"guest services up at {float(uptime):.1f} s guest uptime (vaultd: {vaultd})")
        if vaultd == "failed":
            print_tail(self.vaultd_log)
        return []

    def start(self, name):
        self.results.start(name)
        return []

    def result(self, name, verdict, seconds):
        self.results.finish(name, verdict == "passed", float(seconds))
        return []

    def reset(self):
        return self.disks.reset()

    def done(self):
        self.on_done()
        return []


# --------------------------------------------------------------------------
# qemu


def qemu_command(kernel, initrd, sock_dir, out_dir, job, wants):
    append = " ".join([
        "console=ttyS0", "panic=-1",
        f"lab.run={GUEST_DIR / 'run'}", f"lab.job={job}", f"lab.init={wants.init}",
    ])
    return [
        "qemu-system-x86_64",
        # i440fx: ACPI hotplug on the root bus, no PCIe root ports to manage.
        "-machine", "pc",
        "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", str(wants.memory_mib),
        "-nodefaults", "-nographic", "-no-reboot", "-serial", "stdio",
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", append,
        "-virtfs", "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={out_dir},mount_tag=out,security_model=none,multidevs=remap",
        "-qmp", f"unix:{sock_dir / 'qmp.sock'},server=on,wait=off",
        "-chardev", f"socket,id=ctl,path={sock_dir / 'ctl.sock'},server=on,wait=off",
        "-device", "virtio-serial-pci,id=serial0",
        "-device", f"virtserialport,bus=serial0.0,chardev=ctl,name={CTL_PORT_NAME}",
        "-device", f"virtio-scsi-pci,id={SCSI_BUS.split('.')[0]}",
        # cryptsetup wants entropy early; the guest has no other source.
        "-device", "virtio-rng-pci",
    ]


def copy_console(stream, path, echo):
    """Keeps the guest's console (and qemu's own messages) in OUTDIR, each
    line stamped with the host's seconds since qemu started: the guest's
    clock starts late and says nothing of the firmware's time."""
    started = time.monotonic()
    with open(path, "wb") as log:
        for line in stream:
            stamped = b"%8.3f| " % (time.monotonic() - started) + line
            log.write(stamped)
            log.flush()
            if echo:
                sys.stdout.buffer.write(stamped)
                sys.stdout.flush()


def write_job(path, build_dir, out_dir, plan, scenario_timeout):
    """The guest's instructions, as shell assignments for guest/run to source."""
    values = {
        "LAB_REPO": REPO, "LAB_BUILD": build_dir, "LAB_OUT": out_dir,
        "LAB_SCENARIOS": " ".join(plan.scenarios), "LAB_SCENARIO_TIMEOUT": scenario_timeout,
        "LAB_CTL_NAME": CTL_PORT_NAME, "LAB_GUEST": plan.number,
        "LAB_VAULTD_LOG": out_dir / plan.log_name("vaultd"),
        "LAB_DMESG_LOG": out_dir / plan.log_name("dmesg"),
        "LAB_VAULTD_CONFIG": plan.wants.vaultd_config,
        "LAB_INIT": plan.wants.init,
        "LAB_INSTALL": plan.wants.install,
    }
    path.write_text("".join(f"{k}={shlex.quote(str(v))}\n" for k, v in values.items()))


class Guest:
    """One qemu process and the threads that talk to it."""

    def __init__(self, command, console_log, echo):
        # qemu stays in our process group, so that whatever stops us (a
        # terminal's ^C, a test runner's timeout) stops it too.
        self.qemu = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.console = threading.Thread(target=copy_console, daemon=True,
                                        args=(self.qemu.stdout, console_log, echo))
        self.console.start()

    def connect(self, sock_dir, results, image_dir, carried_dir, vaultd_log):
        self.qmp = Qmp(connect_unix(sock_dir / "qmp.sock", self.qemu, QMP_TIMEOUT_S))
        ctl_sock = connect_unix(sock_dir / "ctl.sock", self.qemu, QMP_TIMEOUT_S)
        control = Control(ctl_sock, Disks(self.qmp, image_dir, carried_dir), results,
                          vaultd_log, self._poweroff_grace)
        threading.Thread(target=control.serve, name="control", daemon=True).start()

    def wait(self, timeout):
        """Waits for qemu to end; returns False if it had to be killed."""
        try:
            self.qemu.wait(timeout=max(timeout, 0))
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        finally:
            self.console.join(timeout=5)

    def kill(self):
        if self.qemu.poll() is None:
            self.qemu.kill()
            self.qemu.wait()

    def _poweroff_grace(self):
        timer = threading.Timer(POWEROFF_GRACE_S, self.kill)
        timer.daemon = True
        timer.start()


# --------------------------------------------------------------------------
# Main


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True, type=Path,
                        help="meson build directory (daemon/vaultd, client/vaultctl)")
    parser.add_argument("--out", required=True, type=Path, help="directory for logs and results.json")
    parser.add_argument("--timeout", type=float, default=20 * 60,
                        help="seconds for all the guests together, from the first one's boot;"
                             " then qemu is killed (default: %(default)s)")
    parser.add_argument("--scenario-timeout", type=int, default=300,
                        help="seconds each scenario may run (default: %(default)s)")
    parser.add_argument("--console", action="store_true", help="also echo the guest console")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help="names in tests/lab/scenarios (default: all)")
    return parser.parse_args()


def pick_scenarios(names):
    available = sorted(p.stem for p in SCENARIO_DIR.glob("*.sh"))
    if not available:
        raise LabError(f"no scenarios in {SCENARIO_DIR}")
    if not names:
        return available
    missing = [n for n in names if n not in available]
    if missing:
        raise LabError(f"no such scenario: {', '.join(missing)} (have: {', '.join(available)})")
    return list(dict.fromkeys(names))


# A scenario's opening comments may hold one "# lab-guest: KEY=VALUE ...",
# with memory=SIZE (the guest's memory), vaultd-config=FILE (a file in
# tests/lab/ that vaultd runs with instead of vaultd-lab.conf), init=systemd
# (systemd as PID 1 and the project installed, instead of a chroot with
# vaultd started by hand) and, with it, install=deb (the project installed
# from the Debian packages in BUILD/deb, which packaging/build-deb makes,
# instead of with meson install).
GUEST_DECLARATION = re.compile(r"#\s*lab-guest:(.*)")
MEMORY = re.compile(r"([1-9]\d*)([MG])")
CONFIG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.conf")
DEFAULT_VAULTD_CONFIG = "vaultd-lab.conf"
INITS = ("chroot", "systemd")
INSTALLS = ("meson", "deb")


def parse_memory(text):
    """MiB in a guest memory size like 512M or 4G."""
    match = MEMORY.fullmatch(text)
    if not match:
        raise LabError(f"bad memory size {text!r}: want a whole number of M or G, like 512M or 4G")
    return int(match[1]) * (1024 if match[2] == "G" else 1)


def parse_config(text):
    """A vaultd configuration file in tests/lab/, by name."""
    if not CONFIG_NAME.fullmatch(text) or not (REPO / "tests" / "lab" / text).is_file():
        raise LabError(f"bad vaultd-config {text!r}: want the name of a .conf file in tests/lab/")
    return text


@dataclasses.dataclass(frozen=True)
class GuestWants:
    memory_mib: int = DEFAULT_MEMORY_MIB
    vaultd_config: str = DEFAULT_VAULTD_CONFIG
    init: str = "chroot"
    install: str = "meson"


def guest_wants(path):
    """What a scenario declares in its opening comments about its guest."""
    declared = None
    opening = True
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        line = line.strip()
        opening = opening and (not line or line.startswith("#"))
        match = GUEST_DECLARATION.fullmatch(line)
        if not match:
            continue
        where = f"{path}:{number}"
        if not opening:
            raise LabError(f"{where}: a lab-guest line belongs in the comments at the top")
        if declared is not None:
            raise LabError(f"{where}: a second lab-guest line")
        values = {}
        for item in match[1].split():
            key, equals, value = item.partition("=")
            if key not in ("memory", "vaultd-config", "init", "install") or not equals \
                    or key in values:
                raise LabError(f"{where}: want '# lab-guest: memory=SIZE vaultd-config=FILE "
                               f"init=systemd install=deb' (any of them, once each), not "
                               f"{line!r}")
            values[key] = value
        if not values:
            raise LabError(f"{where}: an empty lab-guest line")
        if values.get("init", "chroot") not in INITS:
            raise LabError(f"{where}: init is one of {', '.join(INITS)}, not {values['init']!r}")
        if values.get("install", "meson") not in INSTALLS:
            raise LabError(f"{where}: install is one of {', '.join(INSTALLS)}, not "
                           f"{values['install']!r}")
        if values.get("install", "meson") != "meson" and values.get("init") != "systemd":
            raise LabError(f"{where}: install=deb needs init=systemd")
        try:
            declared = GuestWants(
                parse_memory(values["memory"]) if "memory" in values else DEFAULT_MEMORY_MIB,
                parse_config(values["vaultd-config"]) if "vaultd-config" in values
                else DEFAULT_VAULTD_CONFIG,
                values.get("init", "chroot"),
                values.get("install", "meson"))
        except LabError as error:
            raise LabError(f"{where}: {error}") from None
    return declared or GuestWants()


@dataclasses.dataclass
class GuestPlan:
    """One guest's share of the run: consecutive scenarios wanting the same guest."""
    number: int
    wants: GuestWants
    scenarios: list

    @property
    def memory_mib(self):
        return self.wants.memory_mib

    def log_name(self, stem):
        """The first guest's logs keep their plain names; later ones get -2, -3, ..."""
        return f"{stem}.log" if self.number == 1 else f"{stem}-{self.number}.log"


def plan_guests(scenarios):
    plans = []
    for name in scenarios:
        wants = guest_wants(SCENARIO_DIR / f"{name}.sh")
        if plans and plans[-1].wants == wants:
            plans[-1].scenarios.append(name)
        else:
            plans.append(GuestPlan(len(plans) + 1, wants, [name]))
    return plans


# The guest mounts its own file systems there, hiding the host's.
GUEST_MOUNTS = [Path(p) for p in ("/dev", "/proc", "/run", "/sys")]
# console.log, vaultd-2.log, ...: what a guest writes besides scenario logs.
GUEST_LOG = re.compile(rf"({'|'.join(GUEST_LOGS)})(-\d+)?\.log")


def check_path(path):
    # Paths travel on the kernel command line and in qemu's comma-separated options.
    if re.search(r"[\s,]", str(path)):
        raise LabError(f"{path}: the lab cannot use paths with spaces or commas")
    if any(path.is_relative_to(m) for m in GUEST_MOUNTS):
        raise LabError(f"{path}: the guest cannot see the host's {', '.join(map(str, GUEST_MOUNTS))}")


def prepare_out_dir(out_dir, scenarios):
    clashes = [n for n in scenarios if GUEST_LOG.fullmatch(f"{n}.log")]
    if clashes:
        raise LabError(f"scenario {', '.join(clashes)}: its log would be a guest's log")
    out_dir.mkdir(parents=True, exist_ok=True)
    # A guest's logs from an earlier run too, which may have had more guests.
    stale = [p for p in out_dir.iterdir() if GUEST_LOG.fullmatch(p.name)]
    stale += [out_dir / name for name in ("results.json", *(f"{n}.log" for n in scenarios))]
    for path in stale:
        path.unlink(missing_ok=True)


@dataclasses.dataclass
class Run:
    """What the guests of one lab.py run share."""
    args: argparse.Namespace
    kernel: Path
    initrd: Path
    build_dir: Path
    out_dir: Path
    # Each guest's job and disk images, and the carried images; under
    # BUILD/lab, removed when the run ends.
    run_dir: Path
    results: Results
    # time.monotonic() when the --timeout runs out.
    deadline: float

    @property
    def carried_dir(self):
        return self.run_dir / "carried"


def run_guest(run, plan):
    """Boots a guest for plan's scenarios and serves it until it ends;
    returns why it ended badly, or None."""
    timeout = run.args.timeout
    if time.monotonic() >= run.deadline:
        return f"the {timeout:.0f} s timeout ran out before guest {plan.number} could boot"
    say(f"booting guest {plan.number} ({plan.memory_mib} MiB, {plan.wants.vaultd_config}, "
        f"{plan.wants.init}) for: "
        f"{' '.join(plan.scenarios)}")
    # The job and the images must be where the guest can see them.
    guest_dir = run.run_dir / f"guest-{plan.number}"
    guest_dir.mkdir()
    job = guest_dir / "job.env"
    write_job(job, run.build_dir, run.out_dir, plan, run.args.scenario_timeout)
    # Sockets live in /tmp: a unix socket path must stay under 108 bytes.
    with tempfile.TemporaryDirectory(prefix="vaultd-lab.") as sock_dir:
        sock_dir = Path(sock_dir)
        command = qemu_command(run.kernel, run.initrd, sock_dir, run.out_dir, job, plan.wants)
        run.results.new_guest()
        guest = Guest(command, run.out_dir / plan.log_name("console"), run.args.console)
        try:
            guest.connect(sock_dir, run.results, guest_dir, run.carried_dir,
                          run.out_dir / plan.log_name("vaultd"))
            if not guest.wait(run.deadline - time.monotonic()):
                return f"killed when the {timeout:.0f} s timeout ran out"
            if guest.qemu.returncode != 0:
                return f"qemu exited with status {guest.qemu.returncode}"
            return None
        except LabError as error:
            return str(error)
        finally:
            guest.kill()


def main():
    args = parse_args()
    build_dir, out_dir = args.build_dir.resolve(), args.out.resolve()
    scenarios = pick_scenarios(args.scenarios)
    plans = plan_guests(scenarios)
    for path in (REPO, build_dir, out_dir):
        check_path(path)
    lab_dir = build_dir / "lab"
    lab_dir.mkdir(parents=True, exist_ok=True)
    prepare_out_dir(out_dir, scenarios)

    started = time.monotonic()
    kernel, version = find_kernel()
    kernel, remade = boot_kernel(lab_dir, kernel, version)
    say(f"kernel {'extracted' if remade else 'ready'} in {time.monotonic() - started:.2f} s: {kernel}")
    step = time.monotonic()
    initrd, remade = build_initramfs(lab_dir, version)
    say(f"initramfs {'built' if remade else 'up to date'} in {time.monotonic() - step:.2f} s: {initrd}")

    results = Results(scenarios, out_dir)
    with tempfile.TemporaryDirectory(prefix="run.", dir=lab_dir) as run_dir:
        run = Run(args, kernel, initrd, build_dir, out_dir, Path(run_dir), results,
                  time.monotonic() + args.timeout)
        run.carried_dir.mkdir()
        for plan in plans:
            trouble = run_guest(run, plan)
            console = out_dir / plan.log_name("console")
            if trouble:
                seen = f"; console: {console}" if console.exists() else ""
                say(f"guest {plan.number} trouble: {trouble}{seen}")
            reason = trouble or f"guest {plan.number} stopped early; see {console.name}"
            results.close_unfinished(plan.scenarios, reason)

    summary = results.summary()
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    say(f"{summary['passed']} passed, {summary['failed']} failed in "
        f"{time.monotonic() - started:.1f} s; results in {out_dir / 'results.json'}")
    return 0 if summary["failed"] == 0 and summary["passed"] > 0 else 1


if __name__ == "__main__":
    # Unwind on SIGTERM as on ^C, so that qemu is killed and the images removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except LabError as error:
        say(f"error: {error}")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
