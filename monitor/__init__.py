"""treadguard: the safety core (safety/), the service around it (service/), configuration (config/), file formats (formats/) and the command line (cli/)."""

import os as _os

# Opt-in only: the compiled hot path (bench/build_compiled.py); without it the pure-Python modules run.
if _os.environ.get("TREADGUARD_COMPILED", "0") not in ("", "0"):
    from monitor.compiled import use_compiled_build as _use_compiled_build

    _use_compiled_build()
