# Tests: cmocka unit tests (tests/unit), shell tests (tests/cli, tests/fuse) run against real
# qemu-img 7.2 as the oracle. Each area keeps its list in its own fragment.
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	FLATIMG=$(abs_top_builddir)/tools/flatimg \
	FLATIMGFS=$(abs_top_builddir)/fuse/flatimgfs \
	top_srcdir=$(abs_top_srcdir) \
	top_builddir=$(abs_top_builddir); \
	export FLATIMG FLATIMGFS top_srcdir top_builddir;
UNIT_LDADD = $(CORE_LIBS) $(CMOCKA_LIBS)
EXTRA_DIST += tests/lib.sh

TESTS += \
	tests/cli/create-raw.sh \
	tests/cli/info-raw.sh \
	tests/cli/locking.sh
EXTRA_DIST += \
	tests/cli/create-raw.sh \
	tests/cli/info-raw.sh \
	tests/cli/locking.sh

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-opts tests/unit/test-json tests/unit/test-human tests/unit/test-file
tests_unit_test_opts_LDADD = $(UNIT_LDADD)
tests_unit_test_opts_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_json_LDADD = $(UNIT_LDADD)
tests_unit_test_json_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_human_LDADD = $(UNIT_LDADD)
tests_unit_test_human_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_file_LDADD = $(UNIT_LDADD)
tests_unit_test_file_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-opts tests/unit/test-json tests/unit/test-human tests/unit/test-file
check_PROGRAMS += tests/unit/test-info
tests_unit_test_info_LDADD = $(UNIT_LDADD)
tests_unit_test_info_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-info
endif

include tests/qcow2.mk
include tests/fuse.mk
include tests/inspect.mk
include tests/write.mk
include tests/formats.mk
include tests/formats2.mk
include tests/compress.mk
include tests/formats3.mk
include tests/formats4.mk
include tests/crypt.mk
include tests/qcow2b.mk
include tests/fuse2.mk
include tests/check.mk
include tests/write2.mk
