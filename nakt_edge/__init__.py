"""nakt-edge: network-agnostic knowledge transfer from ONNX teachers to small, fast ONNX students."""

from __future__ import annotations

__version__ = "0.1.0"
