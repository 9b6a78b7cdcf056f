# Tests of the check work (see tests/local.mk): qcow2 check and repair against qemu-img on damaged
# images, and the side-by-side sweeps of the inspection commands over every format.
CHECK_TESTS = \
	tests/cli/qcow2-check-repair.sh \
	tests/cli/sweep-info.sh \
	tests/cli/sweep-map.sh \
	tests/cli/sweep-compare-check.sh \
	tests/cli/sweep-measure.sh
TESTS += $(CHECK_TESTS)
EXTRA_DIST += $(CHECK_TESTS) tests/cli/qcow2-damage.py tests/cli/sweep-images.inc
