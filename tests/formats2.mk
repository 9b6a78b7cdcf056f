# Tests of the second formats batch (see tests/local.mk): parallels, qcow, vhdx, bochs, cloop, dmg.
check_PROGRAMS += tests/unit/imgcat2
tests_unit_imgcat2_LDADD = $(CORE_LIBS)

FORMATS2_TESTS = \
	tests/cli/parallels-info.sh \
	tests/cli/parallels-create.sh \
	tests/cli/parallels-rw.sh \
	tests/cli/parallels-hostile.sh \
	tests/cli/qcow-info.sh \
	tests/cli/qcow-create.sh \
	tests/cli/qcow-rw.sh \
	tests/cli/qcow-hostile.sh \
	tests/cli/vhdx-info.sh \
	tests/cli/vhdx-create.sh \
	tests/cli/vhdx-hostile.sh \
	tests/cli/vhdx-rw.sh \
	tests/cli/bochs-read.sh \
	tests/cli/cloop-read.sh \
	tests/cli/dmg-read.sh \
	tests/cli/luks-info.sh \
	tests/cli/luks-create.sh
TESTS += $(FORMATS2_TESTS)
EXTRA_DIST += $(FORMATS2_TESTS)
EXTRA_DIST += tests/formats2-lib.sh
EXTRA_DIST += tests/vhdx-patch.py
EXTRA_DIST += tests/gen-bochs.py
EXTRA_DIST += tests/gen-cloop.py
EXTRA_DIST += tests/gen-dmg.py

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-formats2
tests_unit_test_formats2_LDADD = $(UNIT_LDADD)
tests_unit_test_formats2_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-formats2
endif

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-luks-crypto
tests_unit_test_luks_crypto_LDADD = $(UNIT_LDADD)
tests_unit_test_luks_crypto_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-luks-crypto
endif
