# Tests of the second flatimgfs round (see tests/local.mk): read path modes, start-up and mount
# helper paths, unprivileged mounts.
FUSE2_TESTS = \
	tests/fuse/direct-io.sh \
	tests/fuse/ready.sh \
	tests/fuse/st-blocks.sh \
	tests/fuse/unprivileged.sh \
	tests/fuse/qcow2-matrix.sh \
	tests/fuse/startup-errors.sh
TESTS += $(FUSE2_TESTS)
EXTRA_DIST += $(FUSE2_TESTS)
