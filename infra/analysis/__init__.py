"""The threshold analysis written out for a person: PNG plots and the Markdown report around them."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["plots", "report"]
