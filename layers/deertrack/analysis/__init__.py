"""Threshold analysis of the re-ID score log: what each candidate threshold would do, and how well
it would do it where true identities are known (`deertrack reid analyze`, GET /api/reid/analysis)."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["threshold"]
