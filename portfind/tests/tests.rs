//! Integration tests: run the real `portfind` binary.
