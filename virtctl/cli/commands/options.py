"""Hidden ``options`` command (served by the root group itself; this module only names it)."""
