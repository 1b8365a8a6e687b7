"""A small style check: line length, trailing spaces and tabs, like a linter would report."""

import pathlib
import sys
import time

problems = 0
for path in sorted(pathlib.Path(".").rglob("*.py")):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if len(line) > 100:
            print(f"{path}:{number}: E501 line too long ({len(line)} > 100)")
            problems += 1
        if line != line.rstrip():
            print(f"{path}:{number}: W291 trailing whitespace")
            problems += 1
        if "\t" in line:
            print(f"{path}:{number}: W191 indentation contains tabs")
            problems += 1
    print(f"checked {path}")
    time.sleep(0.3)
print(f"{problems} problem(s) found")
sys.exit(1 if problems else 0)
