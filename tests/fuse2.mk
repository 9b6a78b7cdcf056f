# Tests of the second flatimgfs round (see tests/local.mk): read path modes, start-up and mount
# helper paths, unprivileged mounts.
FUSE2_TESTS = \
	tests/fuse/direct-io.sh \
	tests/fuse/ready.sh \
	tests/fuse/st-blocks.sh \
	tests/fuse/unprivileged.sh \
	tests/fuse/qcow2-matrix.sh \
	tests/fuse/startup-errors.sh \
	tests/fuse/fuse-options.sh \
	tests/fuse/corrupt.sh \
	tests/fuse/clean-close.sh \
	tests/fuse/cluster-cache.sh \
	tests/fuse/sparse-tools.sh \
	tests/fuse/loop-mount.sh \
	tests/fuse/encrypted.sh \
	tests/fuse/corrupt-qcow2.sh \
	tests/fuse/corrupt-formats.sh \
	tests/fuse/mmap.sh \
	tests/fuse/read-reply.sh
TESTS += $(FUSE2_TESTS)
EXTRA_DIST += $(FUSE2_TESTS) tests/fuse/lib-corrupt.sh
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-readpool
tests_unit_test_readpool_SOURCES = tests/unit/test-readpool.c fuse/readpool.c
tests_unit_test_readpool_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fuse
tests_unit_test_readpool_LDADD = $(UNIT_LDADD)
tests_unit_test_readpool_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TESTS += tests/unit/test-readpool
endif
