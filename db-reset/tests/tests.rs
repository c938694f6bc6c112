//! Integration tests: run the real `db-reset` binary.
