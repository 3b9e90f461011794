"""A run: where it lives (``RunDir``), what it records (``RunInfo``), how ranks agree, checkpoints, the
callbacks every run gets."""
