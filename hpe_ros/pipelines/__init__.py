"""Pre/post-processing, composition of networks into pipelines, and inference backends."""
