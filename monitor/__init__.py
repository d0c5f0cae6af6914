"""treadguard: the safety core (safety/), the service around it (service/), configuration (config/), file formats (formats/) and the command line (cli/)."""
