"""makerfirst: maker-first crypto spot execution with guarded purges."""

__version__ = "0.1.0"
