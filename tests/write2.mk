# Tests of the second round of write work (see tests/local.mk).
WRITE2_TESTS = \
	tests/cli/convert-requests.sh \
	tests/cli/create-raw-sectors.sh \
	tests/cli/rate-limit.sh \
	tests/cli/rebase-crash.sh \
	tests/cli/convert-salvage.sh \
	tests/cli/convert-copy-range.sh \
	tests/cli/bitmap-granularity.sh \
	tests/cli/commit-progress.sh \
	tests/cli/rebase-safe.sh \
	tests/cli/create-file-protocol.sh \
	tests/cli/convert-qcow-compress.sh \
	tests/cli/commit-empty.sh \
	tests/cli/commit-writeback.sh \
	tests/cli/commit-kill-points.sh
TESTS += $(WRITE2_TESTS)
EXTRA_DIST += $(WRITE2_TESTS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-pipeline
tests_unit_test_pipeline_SOURCES = tests/unit/test-pipeline.c tools/pipeline.c
tests_unit_test_pipeline_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_unit_test_pipeline_LDADD = $(UNIT_LDADD)
tests_unit_test_pipeline_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-pipeline
endif
