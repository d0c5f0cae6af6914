"""The configuration: its declarations (schema), reading and checking a file (load), its docs."""
