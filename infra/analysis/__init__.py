"""The threshold analysis written out for a person: PNG plots and the Markdown report around them."""
