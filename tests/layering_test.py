# SPDX-License-Identifier: MIT
"""The rooms of src/ (STYLE L1, docs/architecture.md): each third-party header is included
only where it belongs, and core reaches storage only through its API header and plain types.
CMake cannot see this (Debian puts every header in /usr/include), so this test reads the
sources. Prints one line of figures and exits non-zero on the first room broken."""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)

# (what is included, where it may be: path prefixes relative to src/)
RULES = [
    (re.compile(r"^libwebsockets\.h$|^libwebsockets/"), ["net/"]),
    (re.compile(r"^ev\.h$"), ["net/"]),
    (re.compile(r"^cjson/"), ["proto/codec.cpp", "proto/socketio_codec.cpp"]),
    (re.compile(r"^sqlite3\.h$"), ["store/sqlite_db.", "store/sqlite_"]),
    (re.compile(r"^rocksdb/"), ["store/history_cache."]),
    (re.compile(r"^CLI/"), ["main.cpp", "admin/"]),
    (re.compile(r"^sodium\.h$"), ["auth/"]),
    (re.compile(r"^curl/"), ["webhook/"]),
]
# core may include from store/ only these.
CORE_STORE_ALLOWED = {"store/chat_store.h", "store/site_store.h", "store/types.h"}


def main():
    problems, files, includes = [], 0, 0
    for root, _, names in os.walk(SRC):
        for name in names:
            if not name.endswith((".h", ".cpp")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, SRC).replace(os.sep, "/")
            files += 1
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                includes += 1
                for pattern, allowed in RULES:
                    if pattern.search(inc) and not any(rel.startswith(a) for a in allowed):
                        problems.append("%s includes %s (allowed only in %s)" % (rel, inc, ", ".join(allowed)))
                if rel.startswith("core/") and inc.startswith("store/") and inc not in CORE_STORE_ALLOWED:
                    problems.append("%s includes %s (core sees storage only through %s)"
                                    % (rel, inc, " and ".join(sorted(CORE_STORE_ALLOWED))))
    print("figures: %d source files, %d includes checked, %d out of their room" % (files, includes, len(problems)))
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
