# Tests of the formats work: vpc, vdi, qed, vmdk (see tests/local.mk).
# imgcat writes an image's raw view through the driver core (compared with qemu-img convert).
check_PROGRAMS += tests/unit/imgcat
tests_unit_imgcat_LDADD = $(CORE_LIBS)

FORMATS_TESTS = \
	tests/cli/vpc-read.sh \
	tests/cli/vpc-create.sh \
	tests/cli/vpc-hostile.sh \
	tests/cli/vdi-read.sh \
	tests/cli/vdi-create.sh \
	tests/cli/vdi-hostile.sh \
	tests/cli/qed-read.sh \
	tests/cli/qed-write.sh \
	tests/cli/qed-create.sh \
	tests/cli/qed-hostile.sh \
	tests/cli/vmdk-read.sh \
	tests/cli/vmdk-create.sh \
	tests/cli/vmdk-hostile.sh
TESTS += $(FORMATS_TESTS)
EXTRA_DIST += $(FORMATS_TESTS)
