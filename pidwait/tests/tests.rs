//! Integration tests: run the real `pidwait` binary.
