# Streams a G-code file with Debian's printcore (package printrun), the way
# Pronterface does: numbered lines with checksums, one `ok` per line.
#   /usr/bin/python3 printcore_send.py <port> <file> [baud]
import sys
import time

from printrun import gcoder
from printrun.printcore import printcore

port, path = sys.argv[1], sys.argv[2]
baud = int(sys.argv[3]) if len(sys.argv) > 3 else 115200
with open(path) as f:
    lines = [line.strip() for line in f]
gcode = gcoder.LightGCode(lines)
p = printcore(port, baud)
deadline = time.time() + 20
while not p.online and time.time() < deadline:
    time.sleep(0.01)
if not p.online:
    print("printcore did not come online", file=sys.stderr)
    sys.exit(2)
p.startprint(gcode)
while p.printing:
    time.sleep(0.01)
p.disconnect()
print("sent")
