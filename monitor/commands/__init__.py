"""One module per `treadguard` subcommand."""
