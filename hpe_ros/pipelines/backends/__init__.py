"""Where the networks run: torch, ONNX Runtime, TensorRT, and LiteRT for BlazePose's TFLite files."""
