"""Stage 3, comparing: score files, published rows, comparison tables and data frames."""
