#!/usr/bin/python3
"""Builds the libFuzzer targets of tests/fuzz/parsers and runs each for a
fixed time, from a copy of its seeds, writing a JUnit report (one case per
target) for tests/summary.py.

    run.py --source DIR --build DIR --corpus DIR --out DIR --seconds N TARGET...

--build is the fuzzing build directory; it is configured (clang, with
-Dfuzzing=true and the address and undefined-behaviour sanitizers) when it
has no build.ninja. A target passes when libFuzzer ends its time without a
crash, a sanitizer report, a broken property (property.hpp), a leak or an
input slower than 10 s. The input that failed is kept in --out as
TARGET-crash-..., with the target's log as TARGET.log; to reproduce, run
the target on that file.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path


def configure(source, build):
    if (build / "build.ninja").exists():
        return None
    env = dict(os.environ, CC="clang", CXX="clang++")
    setup = subprocess.run(
        ["meson", "setup", str(build), str(source), "-Dfuzzing=true",
         "-Db_sanitize=address,undefined", "-Db_lundef=false", "-Dwerror=false"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if setup.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        return "meson setup of the fuzzing build failed:\n" + setup.stdout[-4000:]
    return None


def build_targets(build, targets):
    names = [f"tests/fuzz/parsers/fuzz-{t}" for t in targets]
    made = subprocess.run(["ninja", "-C", str(build)] + names,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if made.returncode != 0:
        return "building the fuzz targets failed:\n" + made.stdout[-4000:]
    return None


def run_target(build, corpus, out, target, seconds):
    """Runs one target; returns (passed, message)."""
    exe = build / "tests" / "fuzz" / "parsers" / f"fuzz-{target}"
    log_path = out / f"{target}.log"
    with tempfile.TemporaryDirectory(prefix=f"vaultd-fuzz-{target}-") as work:
        # libFuzzer adds what it finds to its first corpus directory: a
        # copy, so the seeds in the repository stay as they are.
        work_corpus = Path(work) / "corpus"
        shutil.copytree(corpus / target, work_corpus)
        seeds = len(list(work_corpus.iterdir()))
        started = time.monotonic()
        with open(log_path, "w") as log:
            rc = subprocess.run(
                [str(exe), f"-max_total_time={seconds}", "-max_len=8192", "-timeout=10",
                 "-rss_limit_mb=2048", "-print_final_stats=1",
                 f"-artifact_prefix={out}/{target}-", str(work_corpus)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=1",
                         UBSAN_OPTIONS="print_stacktrace=1")).returncode
        took = time.monotonic() - started
        found = len(list(work_corpus.iterdir()))
    text = log_path.read_text(errors="replace")
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    cov = re.findall(r"\bcov: (\d+)", text)
    summary = (f"{runs.group(1) if runs else '?'} inputs in {took:.0f} s, "
               f"coverage {cov[-1] if cov else '?'} edges, corpus {seeds} -> {found}")
    if rc == 0:
        return True, summary
    tail = "\n".join(text.splitlines()[-40:])
    return False, f"exit status {rc} after {summary}; log {log_path}:\n{tail}"


def write_report(path, results):
    suite = ET.Element("testsuite", name="fuzz-parsers", tests=str(len(results)),
                       failures=str(sum(1 for _, ok, _ in results if not ok)))
    for target, ok, message in results:
        case = ET.SubElement(suite, "testcase", classname="fuzz", name=f"fuzz-{target}")
        if ok:
            ET.SubElement(case, "system-out").text = message
        else:
            failure = ET.SubElement(case, "failure", message=message.splitlines()[0])
            failure.text = message
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--build", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=int, required=True)
    parser.add_argument("targets", nargs="+")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = Path(os.environ.get("VAULTD_REPORT", args.out / "junit.xml"))

    problem = None
    if not shutil.which("clang++"):
        problem = "clang++ is not installed (scripts/install-deps installs clang)"
    problem = problem or configure(args.source, args.build)
    problem = problem or build_targets(args.build, args.targets)
    if problem:
        print(problem)
        write_report(report, [(t, False, problem) for t in args.targets])
        return 1

    results = []
    for target in args.targets:
        ok, message = run_target(args.build, args.corpus, args.out, target, args.seconds)
        print(f"fuzz-{target}: {'passed' if ok else 'FAILED'}: {message}", flush=True)
        results.append((target, ok, message))
    write_report(report, results)
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
