"""Re-identification: embeddings, cosine scoring against the deer gallery, the score log."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = [
    "assignment", "bursts", "catalog", "classes", "crop_quality", "crops", "exemplars", "gallery", "matching",
    "merge_requests", "merges", "merging", "model_card", "profiles", "requeue", "review", "review_queue",
    "score_log", "scoring", "thumbnails", "vectors"
]
