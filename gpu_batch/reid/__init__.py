"""The re-ID model runtime in the batch image: the torch embedder and the pipeline that crops and embeds."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["embedder", "evaluation", "pipeline", "stored_embeddings", "worker"]
