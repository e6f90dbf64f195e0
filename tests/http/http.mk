# The agent's HTTP endpoint (issue 13, item 2): loader/http.c, tested on its
# own through tests/http/httpd.c (a poll loop with fake ops) until the agent
# links it.
#
#   make test-http    install what is missing (as root), build the sanitised
#                     driver build/test/http/httpd, run tests/http/test_http.py
#                     (promtool from tests/http/promtool.sh)
#
# Included right after LOADER_SRCS is set, before the Makefile's first rule:
# the default goal is saved and restored around the rules below.

.PHONY: test-http
http_goal := $(.DEFAULT_GOAL)

HTTP_SRCS := loader/http.c
HTTP_CFLAGS = $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
HTTP_LIBS = $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
HTTP_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

$(T)/http/httpd: tests/http/httpd.c $(HTTP_SRCS) loader/http.h
	@mkdir -p $(dir $@)
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(HTTP_CFLAGS) -O1 -g $(SAN) -o $@ $< $(HTTP_SRCS) $(HTTP_LIBS)

test-http:
	$(Q)$(MAKE) --no-print-directory $(T)/http/httpd
	$(Q)HTTPD=$(abspath $(T)/http/httpd) \
		PROMTOOL="$$(tests/http/promtool.sh $(abspath $(B)/http/promtool))" \
		$(HTTP_PYTHON) tests/http/test_http.py

.DEFAULT_GOAL := $(http_goal)
