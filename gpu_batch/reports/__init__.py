"""PDF reports drawn with reportlab (charts with reportlab.graphics): seasonal activity, comparison,
deer profile. Every page carries the report title, its range and the generation time."""
