# Tests of the fuse work (see tests/local.mk): flatimgfs mounted on images made by qemu-img.
FUSE_TESTS = \
	tests/fuse/raw-sha256.sh \
	tests/fuse/seek.sh \
	tests/fuse/concurrent.sh \
	tests/fuse/rw.sh \
	tests/fuse/errors.sh \
	tests/fuse/partitions.sh \
	tests/fuse/layout.sh \
	tests/fuse/signals.sh \
	tests/fuse/mount-helper.sh \
	tests/fuse/growable.sh \
	tests/fuse/qcow2-chain.sh \
	tests/fuse/qcow2-rw.sh \
	tests/fuse/overlay.sh \
	tests/fuse/qcow2-snapshots.sh \
	tests/fuse/salvage.sh \
	tests/fuse/qcow2-errors.sh \
	tests/fuse/kill9.sh \
	tests/fuse/options.sh \
	tests/fuse/formats.sh
TESTS += $(FUSE_TESTS)
EXTRA_DIST += $(FUSE_TESTS) tests/fuse/lib-fuse.sh
check_PROGRAMS += tests/fuse/seekmap
tests_fuse_seekmap_SOURCES = tests/fuse/seekmap.c
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-partitions
tests_unit_test_partitions_SOURCES = tests/unit/test-partitions.c fuse/partitions.c
tests_unit_test_partitions_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fuse
tests_unit_test_partitions_LDADD = $(UNIT_LDADD)
tests_unit_test_partitions_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-partitions
endif
