//! Integration tests: run the real `portwait` binary.
