"""The `treadguard` command line: the parser (main), what commands share (common), one module per command."""
