"""ZIP archives of detections: crops (stored, not deflated), metadata.csv and a manifest with the
sha256 of every file; written as a stream, never held whole in memory."""
