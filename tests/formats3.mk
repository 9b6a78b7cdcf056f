# Tests of the third formats batch (see tests/local.mk).

FORMATS3_TESTS = \
	tests/cli/vmdk-stream-create.sh \
	tests/cli/vmdk-stream-convert.sh \
	tests/cli/vmdk-stream-write.sh
TESTS += $(FORMATS3_TESTS)
EXTRA_DIST += $(FORMATS3_TESTS)
