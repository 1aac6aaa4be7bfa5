"""ZIP archives of detections: crops (stored, not deflated), metadata.csv and a manifest with the
sha256 of every file; written as a stream, never held whole in memory."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["detections_zip", "images", "ordered_pool", "render", "rows", "writer"]
