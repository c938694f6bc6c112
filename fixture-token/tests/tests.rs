//! Integration tests: run the real `fixture-token` binary.
