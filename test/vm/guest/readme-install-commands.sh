#!/bin/sh
# Prints the commands of README.md's "Installing the service" block, one per line, comments
# removed: what the VM test runs in the guest (test/vm/guest/checks.sh). Usage: $0 README.md
exec awk '/^### Installing the service/ { on = 1; next }
  on && /^#/ { exit }
  on && /^    [^ ]/ { sub(/^    /, ""); sub(/[ ]+#.*$/, ""); print }' "$1"
