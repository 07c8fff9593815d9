"""Fallback for /usr/bin/time -f %M: `python maxrss.py OUT_FILE COMMAND...`.

Runs COMMAND, forwards SIGTERM and SIGINT to it, then writes the peak resident set size
in KB of COMMAND (and of any descendant it waited for) to OUT_FILE and exits with its code.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    out_file, command = Path(argv[0]), argv[1:]
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    out_file.write_text(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n", encoding="utf-8")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
