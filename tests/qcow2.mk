# Tests of the qcow2 work (see tests/local.mk).
check_PROGRAMS += tests/unit/qcow2-tool
tests_unit_qcow2_tool_LDADD = $(CORE_LIBS)
QCOW2_TESTS = \
	tests/cli/qcow2-read.sh \
	tests/cli/qcow2-create.sh \
	tests/cli/qcow2-write.sh \
	tests/cli/qcow2-hostile.sh \
	tests/cli/qcow2-check.sh \
	tests/cli/qcow2-ops.sh \
	tests/cli/qcow2-snapshot.sh \
	tests/cli/qcow2-map.sh \
	tests/cli/qcow2-bitmap.sh \
	tests/cli/qcow2-amend.sh \
	tests/cli/qcow2-alloc.sh
TESTS += $(QCOW2_TESTS)
EXTRA_DIST += $(QCOW2_TESTS) tests/cli/qcow2-lib.sh tests/cli/qcow2-bitmap-dump.py
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-cache tests/unit/test-qcow2
tests_unit_test_cache_LDADD = $(UNIT_LDADD)
tests_unit_test_cache_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_qcow2_LDADD = $(UNIT_LDADD)
tests_unit_test_qcow2_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-cache tests/unit/test-qcow2
endif
