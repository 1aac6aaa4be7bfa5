"""PDF reports drawn with reportlab (charts with reportlab.graphics): seasonal activity, comparison,
deer profile. Every page carries the report title, its range and the generation time."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["charts", "comparison", "deer_profile", "document", "render", "seasonal_activity", "tables"]
