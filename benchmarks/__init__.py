"""Performance harness of pricedin: ``python -m benchmarks [--quick] [--json]`` (see README.md)."""

from .harness import FULL_SIZES, QUICK_SIZES, format_table, run_benchmarks

__all__ = ["run_benchmarks", "format_table", "QUICK_SIZES", "FULL_SIZES"]
