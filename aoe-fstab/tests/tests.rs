//! Integration tests: run the real `aoe-fstab` binary.
