"""File formats: the trace format (declared once, read, written) and whole-or-nothing file writes."""
