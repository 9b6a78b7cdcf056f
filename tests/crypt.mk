# Tests of encrypted images (see tests/local.mk): qcow and qcow2 AES, qcow2 LUKS, the luks driver.
CRYPT_TESTS = \
	tests/cli/qcow-encrypt.sh \
	tests/cli/qcow2-encrypt.sh \
	tests/cli/luks-ciphers.sh \
	tests/cli/luks-amend.sh \
	tests/fuse/crypt.sh
TESTS += $(CRYPT_TESTS)
EXTRA_DIST += $(CRYPT_TESTS)
