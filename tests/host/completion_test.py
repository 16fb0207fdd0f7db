#!/usr/bin/python3
"""Drives vaultctl's bash completion (client/completion/vaultctl) in bash, as
bash would on a Tab: every command and every option that 'vaultctl COMMAND
--help' lists is offered, option values and volume names are, and a volume
is offered only to the commands its state allows. The volume names come from
a stand-in vaultctl whose 'list --json' prints what the real one printed for
three volumes (the lab's completion scenario asks a real vaultd).

    completion_test.py VAULTCTL COMPLETION
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

COMMANDS = ["list", "status", "format", "unlock", "mount", "unmount", "lock", "grow",
            "header list", "header backup", "header restore", "header repair",
            "keyslot list", "keyslot add", "keyslot change", "keyslot remove",
            "recovery-key", "bind", "unbind", "reload", "wait", "tune", "doctor"]

# 'vaultctl list --json' for a locked volume, a mounted one and an empty one, as vaultctl
# prints it.
LIST_JSON = """[
  {
    "device": "/dev/nvme1n1",
    "kernelName": "nvme1n1",
    "state": "locked",
    "mappingName": "",
    "ebsVolumeId": "vol-0123456789abcdef0",
    "links": [
      "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"
    ],
    "failing": ""
  },
  {
    "device": "/dev/vdb",
    "kernelName": "vdb",
    "state": "mounted",
    "mappingName": "storedev",
    "ebsVolumeId": "",
    "links": [],
    "failing": ""
  },
  {
    "device": "/dev/vdc",
    "kernelName": "vdc",
    "state": "empty",
    "mappingName": "",
    "ebsVolumeId": "",
    "links": [],
    "failing": ""
  }
]
"""

failures = []


def check(what, ok, detail=""):
    print(("ok: " if ok else "FAIL: ") + what + (f" ({detail})" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def complete(completion, program, line):
    """What a Tab at the end of @line offers: COMPREPLY, sorted."""
    words = line.split(" ")
    script = (f"source {completion}\n"
              f"COMP_WORDS=({' '.join(repr(w) for w in [program] + words)})\n"
              f"COMP_CWORD={len(words)}\n"
              "_vaultctl\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    out = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                         check=True).stdout
    return sorted(w for w in out.split("\n") if w)


def help_options(vaultctl, command):
    text = subprocess.run([vaultctl, *command.split(), "--help"], capture_output=True,
                          text=True, check=True).stdout
    return sorted(set(re.findall(r"^\s+(?:-\w,)?(--[a-z-]+)", text, re.M)) - {"--help"})


def main(vaultctl, completion):
    with tempfile.TemporaryDirectory() as tmp:
        stand_in = Path(tmp) / "vaultctl"
        stand_in.write_text(f"#!/bin/sh\ncat <<'END'\n{LIST_JSON}END\n")
        stand_in.chmod(0o755)
        fake = str(stand_in)

        top = complete(completion, fake, "")
        for command in {c.split()[0] for c in COMMANDS}:
            check(f"the command {command} is offered", command in top)
        check("header's own commands", complete(completion, fake, "header ") ==
              ["backup", "list", "repair", "restore"])

        for command in COMMANDS:
            offered = set(complete(completion, fake, command + " -"))
            wanted = set(help_options(vaultctl, command))
            check(f"'{command}' offers every option its --help lists", wanted <= offered,
                  f"missing {sorted(wanted - offered)}")
            check(f"'{command}' offers no option its --help lacks",
                  offered - wanted <= {"--json", "--no-ask-password", "--help", "--version"},
                  f"extra {sorted(offered - wanted - {'--json', '--no-ask-password'})}")

        check("unlock offers the locked volume by kernel name and EBS volume id",
              complete(completion, fake, "unlock ") == ["nvme1n1", "vol-0123456789abcdef0"])
        check("lock offers the mounted volume by kernel and mapping name",
              complete(completion, fake, "lock ") == ["storedev", "vdb"])
        check("status offers every volume", complete(completion, fake, "status ") ==
              ["nvme1n1", "storedev", "vdb", "vdc", "vol-0123456789abcdef0"])
        check("a prefix narrows it", complete(completion, fake, "status st") == ["storedev"])
        check("list takes no volume", complete(completion, fake, "list ") == [])
        check("--fs offers the filesystems", complete(completion, fake, "format vdc --fs ") ==
              ["btrfs", "ext4", "xfs"])
        check("tune --discard offers on and off",
              complete(completion, fake, "tune vdb --discard ") == ["off", "on"])
        check("format's --discard is a flag: the volume comes next",
              complete(completion, fake, "format --discard v") == ["vdc"])
        check("bind's pin is tang", complete(completion, fake, "bind vdb ") == ["tang"])

        (Path(tmp) / "keyfile").write_text("x")
        check("--key-file offers files",
              complete(completion, fake, f"unlock nvme1n1 --key-file {tmp}/key") ==
              [f"{tmp}/keyfile"])

    print(f"completion: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
