//! Integration tests: run the real `lsb-status` binary.
