"""A seeded fuzzer of the pricedin command line (see docs/testing.md, "Fuzzing")."""
