# pkgdist — flat, declarative build.  Adding a core file or a tool source
# needs no edit here: common/*.c is the library, cmd/TOOL/*.c is a tool.

PREFIX    = /usr/local
BINDIR    = $(PREFIX)/bin
MANDIR    = $(PREFIX)/share/man

CC        = cc
OPT       = -O2 -g
CPPFLAGS  = -D_POSIX_C_SOURCE=200809L -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -Icommon
CFLAGS    = -std=c11 $(OPT) -Wall -Wextra -Werror -pthread $(EXTRA_CFLAGS)
LDFLAGS   = -pthread $(EXTRA_LDFLAGS)
LDLIBS    = -lcrypto -lz

# B is the build directory: build (release), build/test (with the
# fault-injection hook), build/asan (sanitizers, hook included).
B         = build

TOOLS     = \
	pkgdiff \
	pkgpush \
	pkgretry \
	pkgstage

SCRIPTS   = \
	scripts/pkgdist-cron \
	scripts/pkgdist-update

MAN1      = $(wildcard man/*.1)
MAN5      = $(wildcard man/*.5)
MAN7      = $(wildcard man/*.7)

LIBSRC    = $(sort $(wildcard common/*.c))
LIBOBJ    = $(LIBSRC:%.c=$(B)/%.o)
LIB       = $(B)/libpkgdist.a
UNITSRC   = $(sort $(wildcard tests/unit/*.c))
UNITBIN   = $(UNITSRC:tests/unit/%.c=$(B)/unit/%)
# A tool is built once its folder has sources, so the tree builds while
# tools are being added.
BINS      = $(foreach t,$(TOOLS),$(if $(wildcard cmd/$(t)/*.c),$(B)/bin/$(t)))

all: $(LIB) $(BINS)

# Header dependencies: the compiler writes, beside each object, the
# headers and included sources it read (B/DIR/FILE.d, -MMD -MP), so
# touching one rebuilds exactly the objects that use it.  An object
# without its .d (built before there were any) is rebuilt once.
DEPFLAGS  = -MMD -MP
DEPS      = $(patsubst %.c,$(B)/%.d,$(LIBSRC) $(wildcard cmd/*/*.c) $(UNITSRC))

$(B)/%.o: %.c $(B)/%.d
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(DEPS):

-include $(wildcard $(DEPS))

$(LIB): $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

.SECONDEXPANSION:
$(B)/bin/%: $$(addprefix $(B)/,$$(subst .c,.o,$$(wildcard cmd/$$*/*.c))) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS)

$(B)/unit/%: $(B)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

units: $(UNITBIN)

# make bootstrap installs (as root, with apt-get) everything the build,
# the tests, lint, fuzz and valgrind use, or prints the command.  make
# check, demo and asan only check (NEEDED): they install nothing when the
# build and the tests can run, and say what bootstrap would add.
bootstrap:
	@sh scripts/bootstrap

NEEDED    = sh scripts/bootstrap --needed

# The test build carries the fault-injection hook (PKGDIST_TESTING).
TESTB     = build/test
check:
	@$(NEEDED)
	@$(MAKE) -s B=$(TESTB) EXTRA_CFLAGS=-DPKGDIST_TESTING all units
	@$(MAKE) -s lint-man
	@sh tests/run $(TESTB)

ASANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	@$(NEEDED)
	@$(MAKE) -s B=build/asan OPT="-O1 -g" EXTRA_CFLAGS="-DPKGDIST_TESTING $(ASANFLAGS)" \
		EXTRA_LDFLAGS="$(ASANFLAGS)" all units
	@# One errno per injected fault here: the sanitizers look for memory
	@# errors on the error paths, which do not depend on which errno it
	@# was; make check runs every errno.
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		FAULT_ERRNOS=$${FAULT_ERRNOS:-EIO} sh tests/run build/asan

# Crash-consistency torture (tests/torture/): also part of check, with
# a sample of crash points; TORTURE_FULL=1 tries every one.
torture:
	@$(NEEDED)
	@$(MAKE) -s B=$(TESTB) EXTRA_CFLAGS=-DPKGDIST_TESTING all
	@sh tests/torture/run $(TESTB)

# Every tool under valgrind on a representative run (tests/valgrind/run).
valgrind: bootstrap
	@$(MAKE) -s B=$(TESTB) EXTRA_CFLAGS=-DPKGDIST_TESTING all
	@sh tests/valgrind/run $(TESTB)

lint-man:
	@if command -v mandoc >/dev/null 2>&1; then \
		[ -z "$(MAN1)$(MAN5)$(MAN7)" ] || \
		mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7) || exit 1; \
	else echo "mandoc not installed: man pages not linted"; fi

# Static checks over common/ and cmd/ (.clang-tidy says which and why).
# cppcheck sees both configurations (release, and the test build's hook);
# readdirCalled is off: readdir_r is deprecated, readdir on a DIR of
# one's own is thread-safe.
LINTSRC   = $(LIBSRC) $(sort $(wildcard cmd/*/*.c))
CPPCHECK  = cppcheck -q --std=c11 --enable=warning,portability,performance \
	--error-exitcode=1 --inline-suppr --library=posix --suppress=readdirCalled
# Every C file of the tree is formatted by .clang-format (make format
# rewrites them; lint fails on one that is not).  Other clang-format
# releases break lines differently, so the check runs with the release
# the tree was formatted by and says so otherwise.
FMTSRC    = $(sort $(wildcard common/*.[ch] cmd/*/*.[ch] tests/unit/*.[ch] \
	tests/fuzz/*.[ch] tests/bench/*.c))
FMTMAJOR  = 14
format:
	@clang-format -i $(FMTSRC)
lint-format:
	@v=$$(clang-format --version 2>/dev/null | sed -n 's/.*version \([0-9]*\).*/\1/p'); \
	if [ "$$v" != "$(FMTMAJOR)" ]; then \
		echo "lint: formatting not checked: clang-format $${v:-missing}, the tree keeps to $(FMTMAJOR)"; \
	else clang-format --dry-run -Werror $(FMTSRC) || \
		{ echo "lint: the files above are not formatted (make format)"; exit 1; }; fi
lint: lint-format
	@for t in cppcheck clang-tidy; do command -v $$t >/dev/null || \
		{ echo "lint: $$t not installed (make bootstrap)"; exit 2; }; done
	@$(CPPCHECK) $(CPPFLAGS) $(LINTSRC)
	@$(CPPCHECK) $(CPPFLAGS) -DPKGDIST_TESTING $(LINTSRC)
	@printf '%s\n' $(LINTSRC) | xargs -P 2 -n 4 sh -c \
		'clang-tidy -quiet "$$@" -- -std=c11 $(CPPFLAGS) -DPKGDIST_TESTING' lint
	@echo "lint: cppcheck and clang-tidy clean on $(words $(LINTSRC)) files, $(words $(FMTSRC)) formatted"

# libFuzzer harnesses (tests/fuzz/), built by clang, FUZZ_SECONDS each.
FUZZ_SECONDS = 60
FUZZSAN   = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz: bootstrap
	@$(MAKE) -s B=build/fuzz CC=clang OPT="-O1 -g" \
		EXTRA_CFLAGS="$(FUZZSAN) -fsanitize=fuzzer-no-link" build/fuzz/libpkgdist.a
	@CC=clang FUZZ_CPPFLAGS="$(CPPFLAGS)" sh tests/fuzz/run build/fuzz $(FUZZ_SECONDS)

bench: bootstrap all
	@sh tests/bench/run $(B)

# The demo builds quietly: one line says what; V=1 shows each compiler
# line as a plain make does.
demo:
	@$(NEEDED)
	@echo "make demo: building pkgdiff, pkgstage, pkgpush and pkgretry in" \
		"$(B)/$(if $(V),, (make V=1 demo shows the compiler lines))"
	@$(MAKE) $(if $(V),,-s) B=$(B) all
	@sh scripts/demo $(B)

# install-files copies what B holds without building: the tests install
# the build under test that way, with no chance of rebuilding it.
install: all
	@$(MAKE) -s B=$(B) install-files

install-files:
	@[ -z "$(BINS)" ] || [ -x "$(firstword $(BINS))" ] || \
		{ echo "nothing built in $(B): run make first" >&2; exit 2; }
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	cp -f $(BINS) $(DESTDIR)$(BINDIR)/
	for s in $(SCRIPTS); do [ ! -f $$s ] || cp -f $$s $(DESTDIR)$(BINDIR)/; done
	[ -z "$(MAN1)" ] || cp -f $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	[ -z "$(MAN5)" ] || cp -f $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	[ -z "$(MAN7)" ] || cp -f $(MAN7) $(DESTDIR)$(MANDIR)/man7/

uninstall:
	for t in $(TOOLS) $(notdir $(SCRIPTS)); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(notdir $(MAN1)); do rm -f $(DESTDIR)$(MANDIR)/man1/$$m; done
	for m in $(notdir $(MAN5)); do rm -f $(DESTDIR)$(MANDIR)/man5/$$m; done
	for m in $(notdir $(MAN7)); do rm -f $(DESTDIR)$(MANDIR)/man7/$$m; done

clean:
	rm -rf build

.PHONY: all units bootstrap check asan install-files torture valgrind lint lint-man lint-format format fuzz bench demo install uninstall clean
.PRECIOUS: $(B)/%.o $(B)/%.d
