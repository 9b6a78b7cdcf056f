# Tests of the fourth formats batch (see tests/local.mk): checks of the non-qcow2 formats, vhdx log
# replay, VMDK3/SESPARSE, dmg resource forks.
EXTRA_DIST += tests/formats4-lib.sh tests/gen-vhdx-log.py tests/gen-vmdk-esx.py tests/gen-prl-ext.py

FORMATS4_TESTS = \
	tests/cli/parallels-check.sh \
	tests/cli/qed-check.sh \
	tests/cli/vdi-check.sh \
	tests/cli/vmdk-check.sh \
	tests/cli/vhdx-log.sh \
	tests/cli/vhdx-check.sh \
	tests/cli/dmg-rsrc.sh \
	tests/cli/vmdk-esx.sh \
	tests/cli/formats4-misc.sh \
	tests/cli/parallels-ext.sh
TESTS += $(FORMATS4_TESTS)
EXTRA_DIST += $(FORMATS4_TESTS)
