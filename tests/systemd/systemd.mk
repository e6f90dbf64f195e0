# tests/systemd: portgate.service under real systemd (PID 1) in a qemu guest:
# readiness, reloads that fail on a rejected policy, STATUS=, journal
# priorities, the watchdog. Included by the top-level Makefile; needs root,
# qemu and debootstrap (tests/deps.sh); everything it makes is under build/.
#
#   make test-systemd [KERNEL_CACHE=dir]

.PHONY: test-systemd
test-systemd: $(B)/portgate
	$(Q)KERNEL_CACHE=$(KERNEL_CACHE) tests/systemd/test-systemd.sh

# The unit test of loader/notify.c links it (and util.c, which it logs
# through) beside the policy library the other unit tests get: this rule
# takes precedence over tests.mk's pattern rule for it.
$(T)/unit/test_notify: tests/unit/test_notify.c $(T)/loader/notify.o $(T)/loader/util.o $(POLICY_SRCS:%.c=$(T)/%.o) $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CMOCKA_CFLAGS) -O1 -g $(SAN) -o $@ $< $(T)/loader/notify.o \
		$(T)/loader/util.o $(POLICY_SRCS:%.c=$(T)/%.o) $(CMOCKA_LIBS) $(LIBBPF_LIBS) $(SYSTEMD_LIBS)
