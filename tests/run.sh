#!/usr/bin/env bash
# The test command: installs what is missing, builds in ./build and runs the whole suite, then
# prints "N passed, N failed" (GTest cases, from meson's JUnit log) as its last line.
#   tests/run.sh              everything
#   SKIP_INSTALL=1 tests/run.sh   skip the apt-get step (packages already there)
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  scripts/install-deps.sh || { echo "tests/run.sh: installing packages failed (see above)"; exit 1; }
fi

builddir=${BUILD_DIR:-build}
if [ -d "$builddir/meson-private" ]; then
  meson setup --reconfigure "$builddir" >/dev/null || exit 1
else
  meson setup "$builddir" || exit 1
fi
ninja -C "$builddir" -j 2 || { echo "tests/run.sh: the build failed"; echo "0 passed, 1 failed"; exit 1; }

rm -f "$builddir/meson-logs/testlog.junit.xml" "$builddir/meson-logs/testlog.json"
meson test -C "$builddir" --print-errorlogs --num-processes 1
status=$?

/usr/bin/env python3 - "$builddir/meson-logs" <<'PY'
import json, os, sys
import xml.etree.ElementTree as ET
logs = sys.argv[1]
passed = failed = skipped = 0
cases = {}          # meson test name -> number of GTest cases seen
case_failures = {}  # meson test name -> failed cases
junit = os.path.join(logs, "testlog.junit.xml")
if os.path.exists(junit):
    for suite in ET.parse(junit).getroot().iter("testsuite"):
        parts = suite.get("name", "").split(".")
        for case in suite.iter("testcase"):
            # GTest cases sit in "<project>.<test>.<Suite>"; plain test programs are one case each,
            # named after the test, in "<project>".
            test = parts[1] if len(parts) > 2 else case.get("name", "")
            cases[test] = cases.get(test, 0) + 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                case_failures[test] = case_failures.get(test, 0) + 1
            elif case.find("skipped") is not None or case.get("status") == "notrun":
                skipped += 1
            else:
                passed += 1
# A program that failed with no failed case (a crash, a timeout, an error at exit) counts as one
# failure; a plain program (no GTest cases) counts as one result.
jlog = os.path.join(logs, "testlog.json")
if os.path.exists(jlog):
    for line in open(jlog):
        t = json.loads(line)
        if t["result"] in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
            if not case_failures.get(t["name"]):
                failed += 1
        elif t["result"] == "OK" and not cases.get(t["name"]):
            passed += 1
if skipped:
    print(f"({skipped} skipped)")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
