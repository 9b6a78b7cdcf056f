# Tests of the write work (see tests/local.mk).
WRITE_TESTS = \
	tests/cli/convert-args.sh \
	tests/cli/convert-raw.sh \
	tests/cli/resize-raw.sh \
	tests/cli/dd-raw.sh \
	tests/cli/commit-raw.sh \
	tests/cli/convert-crash.sh \
	tests/cli/convert-qcow2.sh \
	tests/cli/commit-qcow2.sh \
	tests/cli/commit-crash.sh \
	tests/cli/create-backing.sh
TESTS += $(WRITE_TESTS)
EXTRA_DIST += $(WRITE_TESTS) tests/cli/qcow2-features.sh
