"""Hangs, with a child process of its own: `advisor profile --timeout` must end both."""

import subprocess
import sys
import time
from pathlib import Path

worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
Path(sys.argv[1]).write_text(f"{worker.pid}\n")
while True:
    time.sleep(0.1)
