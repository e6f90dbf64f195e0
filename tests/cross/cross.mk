# make cross-arm64: the BPF objects and the binary for arm64, built with
# Debian's cross compiler into build/arm64/, then checked: an aarch64 ELF
# binary, and BPF objects whose programs were compiled for arm64
# (__TARGET_ARCH_arm64). Run by make test; tests/deps.sh installs the cross
# compiler and the arm64 libraries.
.PHONY: cross-arm64

cross-arm64:
	$(Q)env -u MAKEFLAGS -u MFLAGS $(MAKE) --no-print-directory ARCH=arm64 all
	$(Q)tests/cross/check-arm64.sh build/arm64
