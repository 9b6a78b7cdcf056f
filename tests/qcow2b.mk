# Tests of the second qcow2 work (bitmaps tracked on writes, amend, crash, zero writes; see
# tests/local.mk).
QCOW2B_TESTS = \
	tests/cli/qcow2-bitmap-track.sh \
	tests/fuse/qcow2-bitmaps.sh \
	tests/cli/qcow2-amend-all.sh \
	tests/cli/qcow2-crash.sh \
	tests/cli/qcow2-zero.sh \
	tests/cli/qcow2-shrink.sh \
	tests/cli/qcow2-resize-prealloc.sh \
	tests/cli/qcow2-bitmap-store.sh \
	tests/cli/qcow2-amend-refcount.sh \
	tests/cli/qcow2-refblock-place.sh
TESTS += $(QCOW2B_TESTS)
EXTRA_DIST += $(QCOW2B_TESTS) tests/cli/qcow2-crash.py tests/cli/qcow2-bitmap-hostile.py
