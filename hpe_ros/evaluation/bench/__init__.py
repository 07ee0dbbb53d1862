"""Speed: per-stage latency and throughput of the pipelines, their networks against the work around
them, backends side by side (``hpe-ros bench``)."""
