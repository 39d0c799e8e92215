"""Command implementations: typed kwargs in, exit code out."""
