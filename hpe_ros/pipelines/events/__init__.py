"""The event path: event representations, the event simulator, EventHPE (FlowNet -> ShapeNet -> SMPL)."""
