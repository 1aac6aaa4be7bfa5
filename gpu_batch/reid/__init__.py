"""The re-ID model runtime in the batch image: the torch embedder and the pipeline that crops and embeds."""
