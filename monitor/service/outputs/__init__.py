"""The daemon's side outputs, none of which may delay the loop: status socket and line, journal, systemd, console."""
