# Tests of the inspect work (see tests/local.mk): map, compare, check, measure, bench.
inspect_cli_tests = \
	tests/cli/map-raw.sh \
	tests/cli/compare-raw.sh \
	tests/cli/check-raw.sh \
	tests/cli/measure-raw.sh \
	tests/cli/bench-raw.sh \
	tests/cli/info-names.sh \
	tests/cli/map-qcow2.sh \
	tests/cli/compare-qcow2.sh \
	tests/cli/check-qcow2.sh \
	tests/cli/measure-qcow2.sh
TESTS += $(inspect_cli_tests)
EXTRA_DIST += $(inspect_cli_tests) tests/cli/qcow2-images.inc

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-map tests/unit/test-check-report
tests_unit_test_map_SOURCES = tests/unit/test-map.c tools/map-entry.c tools/map-entry.h
tests_unit_test_map_LDADD = $(UNIT_LDADD)
tests_unit_test_map_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_unit_test_map_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_check_report_SOURCES = tests/unit/test-check-report.c tools/check-report.c \
	tools/check-report.h
tests_unit_test_check_report_LDADD = $(UNIT_LDADD)
tests_unit_test_check_report_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_unit_test_check_report_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-map tests/unit/test-check-report
endif
