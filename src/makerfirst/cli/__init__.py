"""The command line: ``makerfirst``. It builds through ``bootstrap`` and never names an adapter."""
