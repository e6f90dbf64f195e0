#!/bin/bash
# guest-init.sh RESULTS_DIR
#
# Run by the tests/kernels initramfs after switch_root into the tests/systemd
# root file system, as PID 1: hand PID 1 to systemd. The initramfs has
# unmounted /proc and /sys and moved /dev in; systemd mounts the rest.
exec /lib/systemd/systemd
