#!/usr/bin/python3
"""Prints the closing line of a test run, 'N passed, M failed', from what the
real runners wrote: Catch2's JUnit reports, the lab's results.json, and
meson's test log for any test that wrote neither (or crashed before it could).
"""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def junit_counts(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    passed = failed = 0
    for suite in suites:
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is None:
                passed += 1
    return passed, failed


def lab_counts(path):
    results = json.loads(path.read_text())
    return results["passed"], results["failed"]


def main(build):
    build = Path(build)
    log = build / "meson-logs" / "testlog.json"
    if not log.exists():
        print("summary: no meson test log at", log, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    for line in log.read_text().splitlines():
        test = json.loads(line)
        report = Path(test.get("env", {}).get("VAULTD_REPORT", ""))
        ok = test["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        counts = None
        if report.is_file():
            counts = lab_counts(report) if report.suffix == ".json" else junit_counts(report)
        if counts is None:
            counts = (1, 0) if ok else (0, 1)
        elif not ok and counts[1] == 0:
            # The runner failed in a way its own report does not show.
            counts = (counts[0], 1)
        print(f"summary: {test['name']}: {counts[0]} passed, {counts[1]} failed",
              file=sys.stderr)
        passed += counts[0]
        failed += counts[1]
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build"))
