"""deertrack core: settings, schemas, job store, AWS clients, database access, re-ID maths, report data."""

__version__ = "0.1.0"
