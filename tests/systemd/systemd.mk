# tests/systemd: portgate.service under real systemd (PID 1) in a qemu guest:
# readiness, reloads that fail on a rejected policy, STATUS=, journal
# priorities, the watchdog. Included by the top-level Makefile; needs root,
# qemu and debootstrap (tests/deps.sh); everything it makes is under build/.
#
#   make test-systemd [KERNEL_CACHE=dir]

.PHONY: test-systemd
test-systemd: $(B)/portgate
	$(Q)KERNEL_CACHE=$(KERNEL_CACHE) tests/systemd/test-systemd.sh

# The unit test of loader/notify.c links it (and log.c and util.c, which it
# logs through) beside the policy library the other unit tests get: this
# rule takes precedence over tests.mk's pattern rule for it.
$(T)/unit/test_notify: $(T)/tests/unit/test_notify.o $(T)/loader/notify.o $(T)/loader/log.o \
		$(T)/loader/util.o $(POLICY_SRCS:%.c=$(T)/%.o)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN) -o $@ $^ $(CMOCKA_LIBS) $(LIBBPF_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS)
