"""Re-identification: embeddings, cosine scoring against the deer gallery, the score log."""
