# tests/systemd: portgate.service under real systemd (PID 1) in a qemu guest:
# readiness, reloads that fail on a rejected policy, STATUS=, journal
# priorities, the watchdog. Included by the top-level Makefile; needs root,
# qemu and debootstrap (tests/deps.sh); everything it makes is under build/.
#
#   make test-systemd [KERNEL_CACHE=dir]

.PHONY: test-systemd
test-systemd: $(B)/portgate
	$(Q)KERNEL_CACHE=$(KERNEL_CACHE) tests/systemd/test-systemd.sh
