#!/usr/bin/env python3
# tests/lib/onpty.py OUT COMMAND [ARG...]: run COMMAND with stdin, stdout
# and stderr on a new pseudo-terminal (200 columns, 50 rows), as in an
# administrator's interactive shell; write everything the terminal
# received to OUT, byte for byte (the terminal turns "\n" into "\r\n");
# exit with COMMAND's status.  Used by tests/progress.bats.
import fcntl
import os
import struct
import subprocess
import sys
import termios

out, argv = sys.argv[1], sys.argv[2:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True)
os.close(slave)
got = bytearray()
while True:
    try:
        b = os.read(master, 65536)
    except OSError:  # EIO: every copy of the slave side is closed
        break
    if not b:
        break
    got += b
rc = child.wait()
with open(out, "wb") as f:
    f.write(got)
sys.exit(rc if rc >= 0 else 128 - rc)
