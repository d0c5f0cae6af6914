"""Trip records: written beside the loop in a worker process, explained in words, listed, and plotted."""
