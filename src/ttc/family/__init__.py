"""The model family: sizes, training, loading."""
